"""The control-plane HTTP API (FastAPI)."""
