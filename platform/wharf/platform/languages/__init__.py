"""The language versions an app asks for: reading its version files, resolving them against what is on
offer, and installing the chosen runtime once per host into a cache that builds mount read-only."""
