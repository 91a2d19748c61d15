"""Usage: python3 scripts/lib/docker_daemon_settings.py [/etc/docker/daemon.json]

Merges into Docker's daemon.json the settings Wharf needs, keeping every key an operator set:
- `"live-restore": true`, so that dynos keep running while dockerd restarts (unless set to false);
- log rotation for the json-file driver: `"log-driver": "json-file"` only when no driver is named, and
  `"log-opts"` gets `max-size` 10m and `max-file` 3 where it has none (left alone for another driver,
  which may not know those options);
- `default-address-pools` for 2,048 app networks (10.200.0.0/13 in /24s) when it names none: Wharf
  makes one bridge network per app, and Docker's defaults hold about 30.

Each change is described on stderr, and the old file is copied to `daemon.json.wharf-backup-<time>`
before it is replaced. The last line on stdout is "changed" (dockerd must be restarted to use it) or
"unchanged". A file that is not a JSON object is refused, untouched, with exit status 1. Standard
library only: it runs before Wharf is installed.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

WHARF_POOLS = [{"base": "10.200.0.0/13", "size": 24}]
WHARF_LOG_OPTS = {"max-size": "10m", "max-file": "3"}
ROTATING_DRIVERS = ("json-file", "local")
DEFAULT_PATH = Path("/etc/docker/daemon.json")


class Refused(Exception):
    """The file cannot be merged safely; the message says what to fix."""


def merge(config: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """CONFIG with Wharf's settings added where the operator set none, and one line per change or
    per setting of the operator's kept against Wharf's advice."""
    merged = dict(config)
    notes: list[str] = []
    if "live-restore" not in merged:
        merged["live-restore"] = True
        notes.append("live-restore: true (dynos keep running while dockerd restarts)")
    elif merged["live-restore"] is not True:
        notes.append("live-restore is false (yours, kept): a dockerd restart stops every dyno")
    driver = merged.get("log-driver")
    if driver is None:
        merged["log-driver"] = driver = "json-file"
        notes.append("log-driver: json-file")
    if driver in ROTATING_DRIVERS:
        options = merged.get("log-opts", {})
        if not isinstance(options, dict):
            raise Refused("log-opts must be a JSON object of strings")
        missing = {k: v for k, v in WHARF_LOG_OPTS.items() if k not in options}
        if missing:
            merged["log-opts"] = {**options, **missing}
            notes.append("log-opts: " + ", ".join(f"{k}={v}" for k, v in missing.items()) + " (rotation)")
    else:
        notes.append(f"log-driver is {driver} (yours, kept): its log-opts are left as they are")
    if not merged.get("default-address-pools"):
        merged["default-address-pools"] = WHARF_POOLS
        notes.append("default-address-pools: 10.200.0.0/13 in /24s (2,048 app networks)")
    return merged, notes


def read_config(path: Path) -> dict[str, Any]:
    text = path.read_text() if path.exists() else ""
    try:
        current = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as error:
        raise Refused(f"it is not valid JSON ({error})") from None
    if not isinstance(current, dict):
        raise Refused("it must hold a JSON object")
    return current


def backup_path(path: Path) -> Path:
    return path.with_name(f"{path.name}.wharf-backup-{time.strftime('%Y%m%d-%H%M%S')}")


def configure(path: Path, say: Any = print) -> bool:
    """Merge Wharf's settings into the daemon.json at PATH (created if missing); True when written."""
    try:
        current = read_config(path)
        merged, notes = merge(current)
    except Refused as error:
        raise SystemExit(f" !     {path}: {error}; fix it, then run this again.") from None
    for note in notes:
        say(f"       {note}")
    if merged == current and path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        saved = backup_path(path)
        shutil.copy2(path, saved)
        say(f"       the previous file is saved as {saved}")
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".daemon.json.")
    with os.fdopen(handle, "w") as out:
        json.dump(merged, out, indent=2)
        out.write("\n")
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)
    return True


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else DEFAULT_PATH
    changed = configure(path, say=lambda line: print(line, file=sys.stderr))
    print("changed" if changed else "unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
