"""Autoscaling: the scaling rule (a pure function of the metrics) and the loop that applies it."""
