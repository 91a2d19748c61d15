"""Builds: turning pushed source into a slug with buildpacks, and a slug into a release image."""
