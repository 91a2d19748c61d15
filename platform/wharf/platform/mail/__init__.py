"""Email Wharf sends (alerts, invites, account links) over the operator's SMTP server."""
