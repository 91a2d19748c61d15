"""The HTTP entry points: the API, the dashboard and git smart HTTP, over one request context."""
