"""app.json as Heroku and Dokku read it: formation, env, scripts.postdeploy and web healthchecks.

The build reads the file (env fills config vars on an app's first deploy) and the scheduler reads it
from the release image (formation on the first deploy, postdeploy after it, healthchecks on every
deploy). Both go through `parse_app_json`, which rejects what cannot be honoured with a message that
names the key, so a push with a broken app.json fails at the build instead of at some later deploy.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_APP_JSON_BYTES = 256 * 1024
CONFIG_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
PROCESS_TYPE = re.compile(r"[A-Za-z0-9_-]{1,30}")
MAX_QUANTITY = 100
RESERVED_KEYS = frozenset({"PORT", "DYNO"})
# Heroku's size names, mapped to the nearest Wharf size by memory.
SIZE_ALIASES = {
    "free": "basic",
    "eco": "basic",
    "hobby": "basic",
    "basic": "basic",
    "standard-1x": "basic",
    "standard-2x": "standard",
    "standard": "standard",
    "performance": "performance",
    "performance-m": "performance",
    "performance-l": "performance",
}
HEALTH_LIMITS = {"attempts": (1, 60), "timeout": (1, 60), "wait": (0, 60), "initialDelay": (0, 300)}
HEALTH_DEFAULTS = {"attempts": 5, "timeout": 5, "wait": 5, "initialDelay": 0}
SECRET_BYTES = 32


class AppJsonError(ValueError):
    """app.json asks for something Wharf cannot do; the message says which key and what to change."""


@dataclass(frozen=True)
class EnvVar:
    name: str
    value: str | None = None
    generator: str | None = None
    required: bool = True

    def initial_value(self) -> str | None:
        """The value a first deploy sets: a fresh secret, the given value, or None (leave unset)."""
        if self.generator == "secret":
            return secrets.token_hex(SECRET_BYTES)
        return self.value


@dataclass(frozen=True)
class ProcessFormation:
    quantity: int | None = None
    size: str | None = None


@dataclass(frozen=True)
class HealthCheck:
    """A Dokku web check: GET `path` until it answers 2xx/3xx containing `content`, `attempts` times."""

    path: str = "/"
    content: str = ""
    attempts: int = HEALTH_DEFAULTS["attempts"]
    timeout: float = HEALTH_DEFAULTS["timeout"]
    wait: float = HEALTH_DEFAULTS["wait"]
    initial_delay: float = HEALTH_DEFAULTS["initialDelay"]

    @property
    def budget_seconds(self) -> float:
        """The longest the check can take before it gives up."""
        return self.initial_delay + self.attempts * (self.timeout + self.wait)


@dataclass(frozen=True)
class AppManifest:
    env: tuple[EnvVar, ...] = ()
    formation: Mapping[str, ProcessFormation] = field(default_factory=dict)
    postdeploy: str | None = None
    web_checks: tuple[HealthCheck, ...] = ()


EMPTY = AppManifest()


def parse_app_json(raw: bytes | str | None) -> AppManifest:
    """The manifest of an app.json's text; EMPTY when there is none."""
    if raw is None:
        return EMPTY
    if len(raw) > MAX_APP_JSON_BYTES:
        raise AppJsonError(f"app.json is larger than {MAX_APP_JSON_BYTES // 1024} KiB.")
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise AppJsonError(f"app.json is not valid JSON: {error}.") from None
    if not isinstance(document, dict):
        raise AppJsonError("app.json must hold a JSON object.")
    return AppManifest(
        env=_env(document.get("env")),
        formation=_formation(document.get("formation")),
        postdeploy=_postdeploy(document.get("scripts")),
        web_checks=_web_checks(document),
    )


def _env(value: Any) -> tuple[EnvVar, ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise AppJsonError('app.json "env" must be an object of config var names.')
    found = []
    for name, spec in value.items():
        if not CONFIG_KEY.fullmatch(name):
            raise AppJsonError(f'app.json "env": {name!r} is not a valid config var name.')
        if name in RESERVED_KEYS:
            raise AppJsonError(f'app.json "env": {name} is set by Wharf for each dyno; remove it.')
        if isinstance(spec, str):
            found.append(EnvVar(name=name, value=spec))
            continue
        if not isinstance(spec, dict):
            raise AppJsonError(f'app.json "env.{name}" must be a string or an object.')
        generator = spec.get("generator")
        if generator not in (None, "secret"):
            raise AppJsonError(f'app.json "env.{name}.generator": only "secret" is supported.')
        raw_value = spec.get("value")
        if raw_value is not None and not isinstance(raw_value, str | int | float | bool):
            raise AppJsonError(f'app.json "env.{name}.value" must be a string.')
        text = None if raw_value is None else _text(raw_value)
        found.append(
            EnvVar(
                name=name, value=text, generator=generator, required=spec.get("required", True) is not False
            )
        )
    return tuple(found)


def _text(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _formation(value: Any) -> dict[str, ProcessFormation]:
    if value is None:
        return {}
    if isinstance(value, list):  # the older list form: [{"process": "web", "quantity": 1}]
        value = {
            str(item.get("process") or item.get("type")): item for item in value if isinstance(item, dict)
        }
    if not isinstance(value, dict):
        raise AppJsonError('app.json "formation" must be an object of process types.')
    formation = {}
    for kind, spec in value.items():
        if not PROCESS_TYPE.fullmatch(kind) or not isinstance(spec, dict):
            raise AppJsonError(f'app.json "formation": {kind!r} needs to be a process type with an object.')
        quantity = spec.get("quantity")
        if quantity is not None and (
            isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 <= quantity <= MAX_QUANTITY
        ):
            raise AppJsonError(
                f'app.json "formation.{kind}.quantity" must be a whole number 0-{MAX_QUANTITY}.'
            )
        formation[kind] = ProcessFormation(quantity=quantity, size=_size(kind, spec.get("size")))
    return formation


def _size(kind: str, value: Any) -> str | None:
    if value is None:
        return None
    size = SIZE_ALIASES.get(str(value).lower())
    if size is None:
        choices = ", ".join(sorted(set(SIZE_ALIASES.values())))
        raise AppJsonError(
            f'app.json "formation.{kind}.size": unknown size {value!r}; choose one of {choices}.'
        )
    return size


def _postdeploy(scripts: Any) -> str | None:
    if scripts is None:
        return None
    if not isinstance(scripts, dict):
        raise AppJsonError('app.json "scripts" must be an object.')
    command = scripts.get("postdeploy")
    if isinstance(command, dict):  # {"command": "...", "size": "..."}
        command = command.get("command")
    if command is None:
        return None
    if not isinstance(command, str) or not command.strip():
        raise AppJsonError('app.json "scripts.postdeploy" must be a command.')
    return command


def _web_checks(document: dict[str, Any]) -> tuple[HealthCheck, ...]:
    checks = document.get("healthchecks")
    if checks is not None and not isinstance(checks, dict):
        raise AppJsonError('app.json "healthchecks" must be an object of process types.')
    web = (checks or {}).get("web", [])
    if not isinstance(web, list):
        raise AppJsonError('app.json "healthchecks.web" must be a list of checks.')
    if isinstance(document.get("healthcheck"), dict):
        web = [*web, document["healthcheck"]]
    return tuple(_check(index, spec) for index, spec in enumerate(web) if _is_http_check(spec))


def _is_http_check(spec: Any) -> bool:
    """Dokku's path checks (type startup, or none); command, uptime and listening checks are not."""
    return isinstance(spec, dict) and spec.get("type", "startup") == "startup" and "command" not in spec


def _check(index: int, spec: dict[str, Any]) -> HealthCheck:
    where = f'app.json "healthchecks.web[{index}]"'
    path = spec.get("path", "/")
    if not isinstance(path, str) or not path.startswith("/") or any(c.isspace() or ord(c) < 32 for c in path):
        raise AppJsonError(f"{where}.path must start with / and hold no spaces.")
    content = spec.get("content", "")
    if not isinstance(content, str):
        raise AppJsonError(f"{where}.content must be a string.")
    numbers: dict[str, float] = {}
    for key, (low, high) in HEALTH_LIMITS.items():
        value = spec.get(key, HEALTH_DEFAULTS[key])
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise AppJsonError(f"{where}.{key} must be a number from {low} to {high}.")
        numbers[key] = value
    return HealthCheck(
        path=path,
        content=content,
        attempts=int(numbers["attempts"]),
        timeout=numbers["timeout"],
        wait=numbers["wait"],
        initial_delay=numbers["initialDelay"],
    )
