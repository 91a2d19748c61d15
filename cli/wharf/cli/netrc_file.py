"""Read and edit `~/.netrc` the way Heroku's CLI does, so `git push` over HTTP finds the token.

Only the entry for one machine is touched: every other entry, comment and macro is kept
byte for byte. The file is written atomically with mode 0600, since a token readable by other
users of the machine is a leaked account.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

_ITEM_STARTS = {"machine", "default", "macdef"}
_VALUE_KEYWORDS = {"machine", "login", "password", "account", "macdef"}
# Whitespace, a comment, a quoted token or a bare token; after a keyword `#` starts a value instead.
_PATTERN = re.compile(r'\s+|#[^\n]*|"(?:\\.|[^"\\])*"?|[^\s"]+')
_VALUE_PATTERN = re.compile(r'\s+|"(?:\\.|[^"\\])*"?|[^\s"]+')


@dataclass(frozen=True)
class NetrcEntry:
    machine: str
    login: str | None
    password: str | None


@dataclass(frozen=True)
class _Token:
    text: str
    start: int
    end: int


def netrc_path() -> Path:
    """`~/.netrc`: the one file git (through libcurl) reads for HTTP credentials."""
    return Path.home() / ".netrc"


def _tokens(source: str) -> list[_Token]:
    """Split into tokens with their offsets; skips comments and the bodies of `macdef` macros."""
    tokens: list[_Token] = []
    position = 0
    while position < len(source):
        pattern = _VALUE_PATTERN if _expects_value(tokens) else _PATTERN
        match = pattern.match(source, position)
        if match is None:  # pragma: no cover - the patterns match any character
            break
        text = match.group(0)
        is_comment = pattern is _PATTERN and text.startswith("#")
        if not text.isspace() and not is_comment:
            tokens.append(_Token(_unquote(text), match.start(), match.end()))
            if len(tokens) >= 2 and tokens[-2].text == "macdef":
                body_end = source.find("\n\n", match.end())
                match_end = len(source) if body_end < 0 else body_end + 2
                position = match_end
                continue
        position = match.end()
    return tokens


def _expects_value(tokens: list[_Token]) -> bool:
    """After `login`, `password` and friends a `#` starts a value, not a comment."""
    return bool(tokens) and tokens[-1].text in _VALUE_KEYWORDS


def _unquote(text: str) -> str:
    if text.startswith('"'):
        body = text[1:-1] if text.endswith('"') and len(text) > 1 else text[1:]
        return re.sub(r"\\(.)", r"\1", body)
    return text


def _quote(value: str) -> str:
    if value and not re.search(r'[\s"\\#]', value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _entry_spans(tokens: list[_Token]) -> list[tuple[int, int]]:
    """Token index ranges of each item (`machine ...`, `default ...`, `macdef ...`)."""
    starts = [i for i, token in enumerate(tokens) if token.text in _ITEM_STARTS and _is_keyword(tokens, i)]
    return [(start, starts[n + 1] if n + 1 < len(starts) else len(tokens)) for n, start in enumerate(starts)]


def _is_keyword(tokens: list[_Token], index: int) -> bool:
    return index == 0 or tokens[index - 1].text not in _VALUE_KEYWORDS


def _fields(tokens: list[_Token]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for i in range(1, len(tokens) - 1, 2):
        fields.setdefault(tokens[i].text, tokens[i + 1].text)
    return fields


def read_entry(machine: str, path: Path | None = None) -> NetrcEntry | None:
    """The login and password stored for `machine`, or None when there is no such entry."""
    source = _read(path or netrc_path())
    tokens = _tokens(source)
    for start, end in _entry_spans(tokens):
        item = tokens[start:end]
        if item[0].text == "machine" and len(item) > 1 and item[1].text == machine:
            fields = _fields(item[1:])
            return NetrcEntry(machine, fields.get("login"), fields.get("password"))
    return None


def write_entry(machine: str, login: str, password: str, path: Path | None = None) -> None:
    """Replace (or add) the entry for `machine`, keeping everything else in the file."""
    target = path or netrc_path()
    remaining = _without_machine(_read(target), machine)
    entry = f"machine {_quote(machine)}\n  login {_quote(login)}\n  password {_quote(password)}\n"
    # `default` matches every host and must stay last, or curl (and git) would never reach our entry.
    insert_at = _default_offset(remaining)
    before, after = remaining[:insert_at], remaining[insert_at:]
    if before and not before.endswith("\n"):
        before += "\n"
    _write(target, before + entry + after)


def _default_offset(source: str) -> int:
    tokens = _tokens(source)
    for start, _end in _entry_spans(tokens):
        if tokens[start].text == "default":
            return tokens[start].start
    return len(source)


def remove_entry(machine: str, path: Path | None = None) -> bool:
    """Delete the entry for `machine`; returns whether there was one."""
    target = path or netrc_path()
    source = _read(target)
    remaining = _without_machine(source, machine)
    if remaining == source:
        return False
    _write(target, remaining)
    return True


def _without_machine(source: str, machine: str) -> str:
    tokens = _tokens(source)
    pieces: list[str] = []
    cursor = 0
    for start, end in _entry_spans(tokens):
        item = tokens[start:end]
        if item[0].text != "machine" or len(item) < 2 or item[1].text != machine:
            continue
        cut_end = item[-1].end
        while cut_end < len(source) and source[cut_end].isspace():
            cut_end += 1
        pieces.append(source[cursor : item[0].start])
        cursor = cut_end
    pieces.append(source[cursor:])
    return "".join(pieces)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""


def _write(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=".netrc.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
