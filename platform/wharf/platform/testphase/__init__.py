"""The test phase: app.json's `environments.test` run in a one-off dyno before a release goes live."""
