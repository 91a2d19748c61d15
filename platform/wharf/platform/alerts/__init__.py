"""Alerts: conditions read from the platform's records and metrics, delivered to webhooks and email."""
