"""Wharf control plane."""
