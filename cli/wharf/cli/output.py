"""Heroku-style output: `=== headers`, aligned `Key: value` lists, borderless tables, progress lines.

Data goes to stdout; progress ("Creating ⬢ app... done") goes to stderr, as in Heroku's CLI, so
`wharf config:get KEY` and `--json` stay clean for scripts.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from rich.console import Console

HEXAGON = "⬢"

# Created per call so that they follow whatever sys.stdout/sys.stderr are at that moment.


def _stdout() -> Console:
    return Console(file=sys.stdout, highlight=False, soft_wrap=True, emoji=False)


def _stderr() -> Console:
    return Console(file=sys.stderr, highlight=False, soft_wrap=True, emoji=False)


def line(text: str = "") -> None:
    """Print plain text to stdout, with no markup interpretation and no wrapping."""
    _stdout().print(text, markup=False)


def note(text: str) -> None:
    """Print a human message to stderr (hints, warnings)."""
    _stderr().print(text, markup=False)


def header(text: str) -> None:
    _stdout().print(f"=== {text}", style="bold", markup=False)


def print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


def app_label(name: str) -> str:
    return f"{HEXAGON} {name}"


def key_values(pairs: Sequence[tuple[str, str]]) -> None:
    """Print `Key:   value` lines with the values aligned, like `heroku config` and `heroku apps:info`."""
    width = max((len(key) for key, _ in pairs), default=0) + 1
    for key, value in pairs:
        line(f"{key + ':':<{width}} {value}")


def table(rows: Sequence[Sequence[str]]) -> None:
    """Print columns separated by two spaces, each padded to its widest cell, with no trailing spaces."""
    if not rows:
        return
    widths = [max(len(row[col]) for row in rows) for col in range(len(rows[0]))]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        line("  ".join(cells).rstrip())


@contextmanager
def action(message: str) -> Iterator[dict[str, str]]:
    """Print `message... ` then `done` (plus any suffix the block sets) or `!` if the block fails."""
    console = _stderr()
    console.print(f"{message}... ", end="", markup=False)
    sys.stderr.flush()
    outcome: dict[str, str] = {"suffix": ""}
    try:
        yield outcome
    except BaseException:
        console.print("!", markup=False)
        raise
    console.print("done" + outcome["suffix"], markup=False)


def format_time(timestamp: str | None, now: datetime | None = None) -> str:
    """Render an API timestamp as Heroku does: `2024/05/01 12:00:00 +0000 (~ 3m ago)`."""
    if not timestamp:
        return ""
    try:
        moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return timestamp
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    age = ((now or datetime.now(UTC)) - moment).total_seconds()
    return f"{moment.strftime('%Y/%m/%d %H:%M:%S %z')} ({_ago(age)})"


def _ago(seconds: float) -> str:
    if seconds < 60:
        return f"~ {max(int(seconds), 0)}s ago"
    if seconds < 3600:
        return f"~ {int(seconds // 60)}m ago"
    if seconds < 86400:
        return f"~ {int(seconds // 3600)}h ago"
    return f"~ {int(seconds // 86400)}d ago"


def sentence_list(items: Sequence[str]) -> str:
    """`A`, `A and B`, `A, B and C`: how Heroku names the config vars it sets."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def mapping_items(data: Mapping[str, str]) -> list[tuple[str, str]]:
    return sorted(data.items())
