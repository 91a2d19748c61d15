"""API routes, one router per resource."""
