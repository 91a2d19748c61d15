"""One module per resource; each exposes `register(app)` to add its commands to the CLI."""
