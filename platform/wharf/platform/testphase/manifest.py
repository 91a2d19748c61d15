"""app.json's `environments.test`, as Heroku CI reads it.

`scripts.test` (required for a test phase), `scripts.test-setup`, `env` (strings or objects with a
`value`) and `addons` (names, or objects with a `plan`). Add-on plans name a kind by Heroku's names
(`heroku-postgresql:in-dyno`, `heroku-redis`) or Wharf's own (`postgres`, `redis`, `memcached`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from wharf.platform.addons.base import kind_named
from wharf.platform.app_manifest import CONFIG_KEY, MAX_APP_JSON_BYTES, RESERVED_KEYS, AppJsonError

MAX_TEST_ADDONS = 5
MAX_SCRIPT_CHARS = 4096


@dataclass(frozen=True)
class TestEnvironment:
    """What a test run needs: its commands, its config and the kinds of its throwaway add-ons."""

    __test__ = False  # not a pytest test class

    test: str
    setup: str | None = None
    env: tuple[tuple[str, str], ...] = ()
    addons: tuple[str, ...] = ()


def parse_test_environment(raw: bytes | str | None) -> TestEnvironment | None:
    """The test environment of an app.json's text; None when it has no `scripts.test`."""
    if raw is None:
        return None
    if len(raw) > MAX_APP_JSON_BYTES:
        raise AppJsonError(f"app.json is larger than {MAX_APP_JSON_BYTES // 1024} KiB.")
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise AppJsonError(f"app.json is not valid JSON: {error}.") from None
    if not isinstance(document, dict):
        raise AppJsonError("app.json must hold a JSON object.")
    environments = document.get("environments")
    if environments is None:
        return None
    if not isinstance(environments, dict):
        raise AppJsonError('app.json "environments" must be an object.')
    test = environments.get("test")
    if test is None:
        return None
    if not isinstance(test, dict):
        raise AppJsonError('app.json "environments.test" must be an object.')
    scripts = test.get("scripts") or {}
    if not isinstance(scripts, dict):
        raise AppJsonError('app.json "environments.test.scripts" must be an object.')
    command = _script(scripts, "test")
    if command is None:
        return None
    return TestEnvironment(
        test=command,
        setup=_script(scripts, "test-setup"),
        env=_env(test.get("env")),
        addons=_addons(test.get("addons")),
    )


def _script(scripts: dict[str, Any], name: str) -> str | None:
    command = scripts.get(name)
    if command is None:
        return None
    if not isinstance(command, str) or not command.strip():
        raise AppJsonError(f'app.json "environments.test.scripts.{name}" must be a command.')
    if len(command) > MAX_SCRIPT_CHARS or "\x00" in command:
        raise AppJsonError(
            f'app.json "environments.test.scripts.{name}" is longer than {MAX_SCRIPT_CHARS} characters; '
            "put the commands in a script file and run that."
        )
    return command


def _env(value: Any) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise AppJsonError('app.json "environments.test.env" must be an object of config var names.')
    found = []
    for name, spec in value.items():
        where = f'app.json "environments.test.env.{name}"'
        if not CONFIG_KEY.fullmatch(name):
            raise AppJsonError(f'app.json "environments.test.env": {name!r} is not a valid config var name.')
        if name in RESERVED_KEYS:
            raise AppJsonError(f"{where}: {name} is set by Wharf for each dyno; remove it.")
        raw = spec.get("value") if isinstance(spec, dict) else spec
        if raw is None:
            continue
        if not isinstance(raw, str | int | float | bool):
            raise AppJsonError(f'{where} must be a string, or an object with a string "value".')
        text = ("true" if raw else "false") if isinstance(raw, bool) else str(raw)
        if "\x00" in text:
            raise AppJsonError(f"{where} may not contain NUL bytes.")
        found.append((name, text))
    return tuple(found)


def _addons(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise AppJsonError('app.json "environments.test.addons" must be a list of add-on plans.')
    if len(value) > MAX_TEST_ADDONS:
        raise AppJsonError(f'app.json "environments.test.addons" may list at most {MAX_TEST_ADDONS} add-ons.')
    kinds: list[str] = []
    for index, item in enumerate(value):
        plan = item.get("plan") if isinstance(item, dict) else item
        if not isinstance(plan, str):
            raise AppJsonError(
                f'app.json "environments.test.addons[{index}]" must be a plan name or an object with "plan".'
            )
        try:
            kind = kind_named(plan).name
        except ValueError as error:
            raise AppJsonError(f'app.json "environments.test.addons[{index}]": {error}.') from None
        if kind in kinds:
            raise AppJsonError(f'app.json "environments.test.addons" lists {kind} twice; list it once.')
        kinds.append(kind)
    return tuple(kinds)
