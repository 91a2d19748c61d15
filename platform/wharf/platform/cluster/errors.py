"""The one error the cluster commands raise: its message says what to do next."""

from __future__ import annotations


class ClusterError(Exception):
    """A cluster operation that cannot go ahead; the message tells the operator what to do."""


NOT_IN_SWARM = "this engine is not part of a swarm: run wharfd cluster init"
NOT_A_MANAGER = (
    "this engine is a swarm worker, not a manager: run the command on a manager (wharfd nodes lists them)"
)
