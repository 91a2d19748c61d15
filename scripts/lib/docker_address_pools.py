"""Usage: python3 scripts/lib/docker_address_pools.py [/etc/docker/daemon.json]

Gives Docker room for thousands of app networks: Wharf makes one bridge network per app, and Docker's
default address pools hold about 30. Adds `default-address-pools` (10.200.0.0/13 in /24s: 2,048 networks)
to daemon.json, keeping every other setting, and leaves pools an operator already chose alone.
Exits 0 and prints "changed" when the file was written (dockerd must be restarted to use it), else
"unchanged". Standard library only: it runs before Wharf is installed.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

WHARF_POOLS = [{"base": "10.200.0.0/13", "size": 24}]
DEFAULT_PATH = Path("/etc/docker/daemon.json")


def with_address_pools(config: dict[str, Any]) -> dict[str, Any]:
    """CONFIG with Wharf's pools when it names none; an operator's own pools are kept as they are."""
    if config.get("default-address-pools"):
        return config
    return {**config, "default-address-pools": WHARF_POOLS}


def configure(path: Path) -> bool:
    """Merge the pools into the daemon.json at PATH (created if missing); True when it was written."""
    text = path.read_text() if path.exists() else ""
    try:
        current = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as error:
        raise SystemExit(f" !     {path} is not valid JSON ({error}); fix it, then run this again.") from None
    if not isinstance(current, dict):
        raise SystemExit(f" !     {path} must hold a JSON object; fix it, then run this again.")
    merged = with_address_pools(current)
    if merged == current and path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".daemon.json.")
    with os.fdopen(handle, "w") as out:
        json.dump(merged, out, indent=2)
        out.write("\n")
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)
    return True


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else DEFAULT_PATH
    print("changed" if configure(path) else "unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
