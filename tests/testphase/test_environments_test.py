"""app.json's environments.test, in the forms Heroku CI documents."""

from __future__ import annotations

import json

import pytest

from wharf.platform.app_manifest import AppJsonError
from wharf.platform.testphase.manifest import TestEnvironment, parse_test_environment


def parse(document: object) -> TestEnvironment | None:
    return parse_test_environment(json.dumps(document))


def test_no_app_json_or_no_test_script_means_no_test_phase() -> None:
    assert parse_test_environment(None) is None
    assert parse({"name": "x"}) is None
    assert parse({"environments": {"review": {"scripts": {"test": "x"}}}}) is None
    assert parse({"environments": {"test": {"env": {"A": "1"}}}}) is None
    assert parse({"scripts": {"test": "pytest"}}) is None  # a top-level script is not Heroku CI's


def test_scripts_test_only() -> None:
    found = parse({"environments": {"test": {"scripts": {"test": "pytest -q"}}}})
    assert found == TestEnvironment(test="pytest -q")


def test_with_test_setup() -> None:
    found = parse({"environments": {"test": {"scripts": {"test-setup": "make db", "test": "make test"}}}})
    assert found is not None
    assert (found.setup, found.test) == ("make db", "make test")


def test_addons_as_strings_and_objects_with_heroku_and_wharf_names() -> None:
    found = parse(
        {
            "environments": {
                "test": {
                    "scripts": {"test": "t"},
                    "addons": ["heroku-postgresql:in-dyno", {"plan": "heroku-redis:in-dyno"}, "memcached"],
                }
            }
        }
    )
    assert found is not None
    assert found.addons == ("postgres", "redis", "memcached")
    found = parse({"environments": {"test": {"scripts": {"test": "t"}, "addons": ["heroku-postgresql"]}}})
    assert found is not None and found.addons == ("postgres",)


def test_env_values_as_strings_or_objects_with_value() -> None:
    found = parse(
        {
            "environments": {
                "test": {
                    "scripts": {"test": "t"},
                    "env": {"A": "1", "B": {"value": "two"}, "C": {"value": True}, "D": {"description": "x"}},
                }
            }
        }
    )
    assert found is not None
    assert dict(found.env) == {"A": "1", "B": "two", "C": "true"}


@pytest.mark.parametrize(
    ("test_env", "complaint"),
    [
        ({"scripts": {"test": ""}}, "scripts.test"),
        ({"scripts": {"test": 3}}, "scripts.test"),
        ({"scripts": {"test": "t"}, "addons": ["mysql"]}, "unknown add-on kind"),
        ({"scripts": {"test": "t"}, "addons": ["postgres", "heroku-postgresql"]}, "twice"),
        ({"scripts": {"test": "t"}, "addons": "postgres"}, "must be a list"),
        ({"scripts": {"test": "t"}, "env": {"bad key": "1"}}, "not a valid config var name"),
        ({"scripts": {"test": "t"}, "env": {"PORT": "1"}}, "set by Wharf"),
        ({"scripts": {"test": "t"}, "env": {"A": ["x"]}}, "must be a string"),
        ({"scripts": "t"}, "must be an object"),
    ],
)
def test_what_cannot_be_honoured_is_refused_naming_the_key(test_env: object, complaint: str) -> None:
    with pytest.raises(AppJsonError, match=complaint):
        parse({"environments": {"test": test_env}})
