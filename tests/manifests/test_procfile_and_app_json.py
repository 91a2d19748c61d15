"""Procfile and app.json read as Heroku and Dokku read them: odd but valid files work, broken ones say why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wharf.platform.app_manifest import EMPTY, AppJsonError, HealthCheck, ProcessFormation, parse_app_json
from wharf.platform.builds.app_json import initial_config, read_manifest
from wharf.platform.builds.compile import BuildFailed
from wharf.platform.builds.processes import parse_procfile


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("web: gunicorn app:app\n", {"web": "gunicorn app:app"}),
        ("worker: python worker.py", {"worker": "python worker.py"}),
        ("# a comment\n\n\nweb: a\n   \n# web: b\n", {"web": "a"}),
        (
            "\ufeffweb: starts with a byte order mark\r\nclock: crlf\r\n",
            {"web": "starts with a byte order mark", "clock": "crlf"},
        ),
        (
            "my_Worker-2: run it\nUPPER: ok\n_x: y\n-dash: z\n",
            {"my_Worker-2": "run it", "UPPER": "ok", "_x": "y", "-dash": "z"},
        ),
        ("web:no-space\nrelease:\ttouch /app/x  \n", {"web": "no-space", "release": "touch /app/x"}),
        ("web: first\nweb: second\n", {"web": "second"}),
        ("web: echo a: b # not a comment\n", {"web": "echo a: b # not a comment"}),
        ("odd type: x\n  indented: x\nempty:\nweb.1: x\nnot a line\n", {}),
        ("a" * 30 + ": longest type\n" + "b" * 31 + ": too long to scale\n", {"a" * 30: "longest type"}),
        ("", {}),
    ],
)
def test_procfiles(text: str, expected: dict[str, str]) -> None:
    assert parse_procfile(text) == expected


def test_an_absent_or_empty_app_json_asks_for_nothing() -> None:
    assert parse_app_json(None) == EMPTY
    assert parse_app_json("{}") == EMPTY
    assert parse_app_json('{"name": "x", "addons": ["heroku-postgresql"], "buildpacks": []}') == EMPTY


def test_heroku_app_json_keys() -> None:
    manifest = parse_app_json(
        json.dumps(
            {
                "env": {
                    "SECRET_KEY": {"generator": "secret"},
                    "GREETING": {"value": "hello", "description": "shown"},
                    "PLAIN": "value",
                    "DEBUG": {"value": False, "required": False},
                    "API_TOKEN": {"description": "you set it", "required": True},
                    "OPTIONAL": {"required": False},
                },
                "formation": {"web": {"quantity": 2, "size": "Standard-2X"}, "worker": {"quantity": 1}},
                "scripts": {"postdeploy": "python manage.py loaddata seed"},
            }
        )
    )

    env = {v.name: v for v in manifest.env}
    assert env["SECRET_KEY"].generator == "secret"
    assert (env["GREETING"].value, env["PLAIN"].value, env["DEBUG"].value) == ("hello", "value", "false")
    assert env["API_TOKEN"].required and not env["OPTIONAL"].required
    assert manifest.formation == {"web": ProcessFormation(2, "standard"), "worker": ProcessFormation(1, None)}
    assert manifest.postdeploy == "python manage.py loaddata seed"


def test_dokku_healthchecks_with_defaults_and_limits() -> None:
    manifest = parse_app_json(
        json.dumps(
            {
                "healthchecks": {
                    "web": [
                        {
                            "type": "startup",
                            "path": "/health",
                            "content": "ok",
                            "attempts": 3,
                            "timeout": 2,
                            "wait": 1,
                        },
                        {"path": "/", "initialDelay": 4},
                        {"type": "liveness", "path": "/live"},
                        {"type": "startup", "command": ["true"]},
                    ],
                    "worker": [{"type": "startup", "command": ["true"]}],
                }
            }
        )
    )

    assert manifest.web_checks == (
        HealthCheck(path="/health", content="ok", attempts=3, timeout=2, wait=1, initial_delay=0),
        HealthCheck(path="/", initial_delay=4),
    )
    assert manifest.web_checks[0].budget_seconds == 9


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("[1, 2]", "JSON object"),
        ("{not json", "not valid JSON"),
        ('{"env": {"bad name": "x"}}', "not a valid config var name"),
        ('{"env": {"PORT": "80"}}', "set by Wharf"),
        ('{"env": {"X": {"generator": "uuid"}}}', '"secret"'),
        ('{"env": {"X": {"value": {"nested": 1}}}}', "must be a string"),
        ('{"formation": {"web": {"quantity": -1}}}', "whole number"),
        ('{"formation": {"web": {"quantity": true}}}', "whole number"),
        ('{"formation": {"web": {"size": "gigantic"}}}', "unknown size"),
        ('{"formation": {"we b": {}}}', "process type"),
        ('{"scripts": {"postdeploy": ""}}', "postdeploy"),
        ('{"healthchecks": {"web": {"path": "/"}}}', "list of checks"),
        ('{"healthchecks": {"web": [{"path": "health"}]}}', "start with /"),
        ('{"healthchecks": {"web": [{"path": "/a b"}]}}', "start with /"),
        ('{"healthchecks": {"web": [{"attempts": 0}]}}', "attempts"),
        ('{"healthchecks": {"web": [{"timeout": "5"}]}}', "timeout"),
        ('{"healthchecks": {"web": [{"wait": 1000}]}}', "wait"),
    ],
)
def test_an_app_json_that_cannot_be_honoured_says_which_key(document: str, message: str) -> None:
    with pytest.raises(AppJsonError, match=message):
        parse_app_json(document)


def test_env_fills_only_unset_vars_and_only_on_the_first_deploy() -> None:
    env = {"SECRET_KEY": {"generator": "secret"}, "GREETING": {"value": "hi"}, "KEPT": {"value": "new"}}
    manifest = parse_app_json(json.dumps({"env": env}))

    first = initial_config(manifest, {"KEPT": "mine"}, first_deploy=True)
    again = initial_config(manifest, first.config, first_deploy=True)
    later = initial_config(manifest, {}, first_deploy=False)

    assert first.config["KEPT"] == "mine" and first.config["GREETING"] == "hi"
    assert len(first.config["SECRET_KEY"]) == 64 and first.generated == ("SECRET_KEY",)
    assert again.config == first.config and not again.generated
    assert later.config == {}


def test_a_required_var_without_value_fails_the_first_build_naming_it() -> None:
    manifest = parse_app_json(
        '{"env": {"API_TOKEN": {"description": "from the vendor"}, "OPT": {"required": false}}}'
    )

    with pytest.raises(BuildFailed, match=r"wharf config:set API_TOKEN=\.\.\."):
        initial_config(manifest, {}, first_deploy=True)
    assert initial_config(manifest, {"API_TOKEN": "t"}, first_deploy=True).config == {"API_TOKEN": "t"}


def test_app_json_is_never_read_through_a_symlink_or_past_its_cap(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text('{"env": {"X": "y"}}')
    (tmp_path / "app.json").symlink_to(tmp_path / "secret")
    with pytest.raises(BuildFailed, match="symbolic link"):
        read_manifest(tmp_path)

    (tmp_path / "app.json").unlink()
    (tmp_path / "app.json").write_text(" " * (300 * 1024) + "{}")
    with pytest.raises(BuildFailed, match=r"over the \d+ byte limit"):
        read_manifest(tmp_path)

    (tmp_path / "app.json").unlink()
    assert read_manifest(tmp_path) == EMPTY
