"""Which app a command acts on: --app, else the `wharf` remote of a real git repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from wharf.cli import gitrepo
from wharf.cli.errors import WharfError
from wharf.cli.resolve import NO_APP_MESSAGE, resolve_app


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.mark.parametrize(
    ("url", "app"),
    [
        ("http://127.0.0.1:5000/git/my-app.git", "my-app"),
        ("http://user:tok@host:5000/git/shop2.git/", "shop2"),
        ("https://wharf.example.com/git/a.git", "a"),
        ("https://github.com/me/project.git", None),
        ("git@github.com:me/project.git", None),
    ],
)
def test_app_name_is_read_from_wharf_git_urls_only(url: str, app: str | None) -> None:
    assert gitrepo.app_from_git_url(url) == app


def test_explicit_app_wins_over_the_remote(home: Path) -> None:
    git("init", "-q", cwd=Path.cwd())
    git("remote", "add", "wharf", "http://h:5000/git/from-remote.git", cwd=Path.cwd())
    assert resolve_app("explicit") == "explicit"
    assert resolve_app(None) == "from-remote"


def test_remote_is_found_from_a_subdirectory_and_by_another_name(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = Path.cwd()
    git("init", "-q", cwd=repo)
    git("remote", "add", "staging", "http://h:5000/git/shop-staging.git", cwd=repo)
    (repo / "src").mkdir()
    monkeypatch.chdir(repo / "src")
    assert resolve_app(None, "staging") == "shop-staging"


def test_no_app_outside_a_repository_says_how_to_pass_one(home: Path) -> None:
    with pytest.raises(WharfError) as raised:
        resolve_app(None)
    assert raised.value.message == NO_APP_MESSAGE


def test_remote_that_is_not_wharf_is_not_guessed(home: Path) -> None:
    git("init", "-q", cwd=Path.cwd())
    git("remote", "add", "wharf", "https://github.com/me/project.git", cwd=Path.cwd())
    with pytest.raises(WharfError, match="--app APP"):
        resolve_app(None)


def test_set_remote_adds_then_updates(home: Path) -> None:
    git("init", "-q", cwd=Path.cwd())
    gitrepo.set_remote("wharf", "http://h:5000/git/one.git")
    gitrepo.set_remote("wharf", "http://h:5000/git/two.git")
    assert gitrepo.remote_url("wharf") == "http://h:5000/git/two.git"
    assert gitrepo.remotes_for_app("two") == ["wharf"]
