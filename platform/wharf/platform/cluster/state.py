"""The cluster choice, kept in the data dir, so that settings choose the "swarm" runtime from then on
(settings.runtime_chosen_in_data_dir reads it back; this module only writes it)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path


def save_cluster_choice(path: Path, *, node_id: str, swarm_id: str, registry: str | None = None) -> Path:
    """Record at `path` (Settings.cluster_state_path) that this installation runs on a swarm, and the
    registry (address:port) its nodes pull release images from, written whole and then renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    record: dict[str, object] = {"runtime": "swarm", "node_id": node_id, "swarm_id": swarm_id}
    if registry:
        record["registry"] = registry
    record["since"] = int(time.time())
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(record, indent=2) + "\n")
    os.chmod(partial, 0o600)
    partial.replace(path)
    return path
