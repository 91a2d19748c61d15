"""Helpers shared by the tests: servers, clients, images and harnesses, one module per subject."""
