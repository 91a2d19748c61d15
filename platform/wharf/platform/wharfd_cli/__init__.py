"""The subcommands of `wharfd` (platform/wharf/platform/wharfd.py), one module per group."""
