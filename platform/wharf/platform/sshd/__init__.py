"""The SSH server for `git push ssh://git@HOST:2222/APP.git`: git commands only, by public key."""
