"""The wharf command-line client."""
