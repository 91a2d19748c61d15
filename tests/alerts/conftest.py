"""Fixtures: the scheduler on the in-memory runtime (as in tests/scheduler), for alerts and autoscaling."""

from __future__ import annotations

from tests.scheduler.conftest import world

__all__ = ["world"]
