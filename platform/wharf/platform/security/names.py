"""The rules for every name a user hands to Wharf, in one place.

Each rule is a full match (`re.fullmatch`): a pattern ending in `$` also matches before a trailing
newline, which let `victim.localhost\n` or `PORT\n` through. Whitespace and control characters are
refused first, everywhere, with a message that names the character, so a name can never break out
of a header, a config line or an nginx `server_name`.
"""

from __future__ import annotations

import re
import unicodedata

from wharf.platform.errors import BadRequest, Unprocessable

APP_NAME = re.compile(r"[a-z][a-z0-9-]{0,29}")
HOSTNAME = re.compile(r"(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
CONFIG_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
PROCESS_TYPE = re.compile(r"[A-Za-z0-9_-]{1,63}")
ATTACHMENT = re.compile(r"[A-Z][A-Z0-9_]{0,59}")
MAX_HOSTNAME = 253


def unsafe_character(value: str) -> str | None:
    """The first whitespace or control character in ``value`` (as `\\n`, `U+2028`...), if any."""
    for char in value:
        if char == " ":
            return "a space"
        if char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"):
            escaped = char.encode("unicode_escape").decode("ascii")
            return escaped if escaped != char else f"U+{ord(char):04X}"
    return None


def refuse_unsafe_characters(value: str, what: str) -> None:
    """422 when ``value`` holds a control character; the shape rules refuse a plain space."""
    found = unsafe_character(value)
    if found is not None and found != "a space":
        raise Unprocessable(
            f"The {what} {value!r} contains the control character {found}. "
            f"Give the {what} without whitespace or control characters.",
            error_id="invalid_characters",
        )


def validate_app_name(name: str) -> str:
    refuse_unsafe_characters(name, "app name")
    if not APP_NAME.fullmatch(name) or name.endswith("-"):
        raise BadRequest(
            f"'{name}' is not a valid app name. Use lowercase letters, digits and dashes, start with a "
            "letter, and keep it to 30 characters.",
            error_id="invalid_app_name",
        )
    return name


def validate_hostname(hostname: str) -> str:
    """The hostname lowercased, without a final dot; BadRequest unless it is a plain DNS name."""
    refuse_unsafe_characters(hostname, "hostname")
    cleaned = hostname.lower().removesuffix(".")
    if len(cleaned) > MAX_HOSTNAME or not HOSTNAME.fullmatch(cleaned):
        raise BadRequest(
            f"'{hostname}' is not a valid hostname. Give one like www.example.com.",
            error_id="invalid_hostname",
        )
    return cleaned


def validate_config_key(key: str) -> str:
    refuse_unsafe_characters(key, "config var name")
    if not CONFIG_KEY.fullmatch(key):
        raise BadRequest(
            f"'{key}' is not a valid config var name. Use letters, digits and underscores, "
            "not starting with a digit.",
            error_id="invalid_config_key",
        )
    return key


def is_config_key(key: str) -> bool:
    return CONFIG_KEY.fullmatch(key) is not None


def validate_process_type(process_type: str) -> str:
    refuse_unsafe_characters(process_type, "process type")
    if not PROCESS_TYPE.fullmatch(process_type):
        raise BadRequest(
            f"'{process_type}' is not a valid process type. Use letters, digits, dashes and underscores.",
            error_id="invalid_process_type",
        )
    return process_type


def validate_attachment(attachment: str, given: str) -> str:
    refuse_unsafe_characters(given, "attachment name")
    if not ATTACHMENT.fullmatch(attachment):
        raise BadRequest(
            f"--as {given} is not a valid attachment name: use letters, digits and underscores.",
            error_id="invalid_attachment",
        )
    return attachment


def validate_url(url: str, what: str) -> str:
    """A URL as given: no whitespace or control characters anywhere (urlsplit drops some silently)."""
    found = unsafe_character(url)
    if found is not None:
        raise Unprocessable(
            f"The {what} contains {found if found == 'a space' else 'the control character ' + found}. "
            f"Give the {what} without whitespace or control characters.",
            error_id="invalid_characters",
        )
    return url


TEAM_NAME = APP_NAME


def validate_team_name(name: str) -> str:
    refuse_unsafe_characters(name, "team name")
    if not TEAM_NAME.fullmatch(name) or name.endswith("-"):
        raise BadRequest(
            f"'{name}' is not a valid team name. Use lowercase letters, digits and dashes, start with a "
            "letter, and keep it to 30 characters.",
            error_id="invalid_team_name",
        )
    return name
