"""Where the CLI finds the API URL and token: environment over config.json and ~/.netrc."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wharf.cli import settings
from wharf.cli.errors import WharfError


def test_config_lives_under_xdg_config_home_or_dot_config(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert settings.config_path() == home / ".config" / "wharf" / "config.json"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "xdg"))
    settings.save_config({"api_url": "http://example.com:5000"})
    assert json.loads((home / "xdg" / "wharf" / "config.json").read_text()) == {
        "api_url": "http://example.com:5000"
    }


def test_api_url_prefers_environment_then_config_then_default(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert settings.api_url() == "http://127.0.0.1:5000"
    settings.save_config({"api_url": "http://saved.example:5000"})
    assert settings.api_url() == "http://saved.example:5000"
    monkeypatch.setenv("WHARF_API_URL", "http://env.example:8000/")
    assert settings.api_url() == "http://env.example:8000"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://host:5000/", "http://host:5000"),
        ("host:5000", "http://host:5000"),
        ("https://wharf.example.com/api", "https://wharf.example.com"),
    ],
)
def test_api_urls_are_normalized(given: str, expected: str) -> None:
    assert settings.normalize_api_url(given) == expected


def test_nonsense_api_url_is_refused_with_the_expected_form() -> None:
    with pytest.raises(WharfError, match="http://HOST:5000"):
        settings.normalize_api_url("ftp://host")


def test_token_comes_from_environment_before_netrc(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = "http://wharf.test:5000"
    assert settings.stored_credentials(url) is None
    (home / ".netrc").write_text("machine wharf.test login ann@example.com password from-netrc\n")
    credentials = settings.stored_credentials(url)
    assert credentials is not None
    assert (credentials.token, credentials.email) == ("from-netrc", "ann@example.com")
    monkeypatch.setenv("WHARF_API_TOKEN", "from-env")
    credentials = settings.stored_credentials(url)
    assert credentials is not None
    assert credentials.token == "from-env"


def test_netrc_machine_is_the_bare_host_that_git_looks_up() -> None:
    assert settings.api_host("http://127.0.0.1:5000") == "127.0.0.1"
    assert settings.api_host("https://Wharf.Example.com") == "wharf.example.com"


def test_corrupt_config_file_says_which_file_to_fix(home: Path) -> None:
    settings.config_path().parent.mkdir(parents=True)
    settings.config_path().write_text("{not json")
    with pytest.raises(WharfError, match=r"config\.json"):
        settings.api_url()
