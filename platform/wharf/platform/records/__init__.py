"""What the control plane writes down and reads back: numbered, immutable releases and builds.

Below the actions: the build worker, the git hook and the add-on code record releases and builds here
without importing any action.
"""
