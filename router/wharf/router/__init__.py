"""Wharf router: programs the nginx data plane from the route table."""
