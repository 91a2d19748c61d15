"""An app cannot name a host folder as its buildpack, and its backups are private files.

Through a live `wharfd api`: `BUILDPACK_URL=/some/host/dir` (what `wharf buildpacks:set` sends) is refused
when it is set, with a message saying what to use instead, and nothing is saved; a backup is written 0600
in folders only the platform can enter.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.conftest import LiveServer
from tests.utils.addons_api import create_addon, new_app, user_client
from wharf.platform.builds.compile import BuildFailed, CompileRequest, compile_slug


@pytest.mark.parametrize(
    "spec", ["/etc", "/var/lib/wharf", "./bp", "file:///etc", "python\n", "https://host/bp.tgz x", "../x"]
)
def test_buildpack_url_naming_a_path_is_refused_when_set(live_server: LiveServer, spec: str) -> None:
    client = user_client(live_server)
    app = new_app(client)

    answer = client.patch(f"/api/apps/{app}/config", json={"BUILDPACK_URL": spec})

    assert answer.status_code == 400, answer.text
    assert "Paths on the server are not accepted" in answer.json()["message"]
    assert "BUILDPACK_URL" not in client.get(f"/api/apps/{app}/config").json()


@pytest.mark.parametrize(
    "spec",
    [
        "python",
        "heroku/nodejs",
        "https://github.com/heroku/heroku-buildpack-ruby.git#v250",
        "https://example.com/bp.tgz",
        "git@github.com:me/bp.git",
    ],
)
def test_buildpack_names_and_urls_are_accepted(live_server: LiveServer, spec: str) -> None:
    client = user_client(live_server)
    app = new_app(client)
    answer = client.patch(f"/api/apps/{app}/config", json={"BUILDPACK_URL": spec})
    assert answer.status_code == 200, answer.text
    assert answer.json()["BUILDPACK_URL"] == spec


def test_a_host_path_in_an_existing_buildpack_url_is_never_mounted(tmp_path: Path) -> None:
    """A config saved before the check cannot reach the builder either: the build fails, nothing mounted."""
    (tmp_path / "source").mkdir()
    (tmp_path / "source" / "Procfile").write_text("web: true\n")
    request = CompileRequest(
        source_dir=tmp_path / "source",
        cache_dir=tmp_path / "cache",
        work_dir=tmp_path / "work",
        env={"BUILDPACK_URL": "/etc"},
    )
    with pytest.raises(BuildFailed, match="Paths on the server are not accepted"):
        compile_slug(request, on_output=lambda _line: None)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_backups_are_0600_in_0700_folders(live_server: LiveServer) -> None:
    client = user_client(live_server)
    app = new_app(client)
    addon = create_addon(client, app, "postgres")
    backup = client.post(f"/api/apps/{app}/addons/DATABASE/backups")
    assert backup.status_code in (200, 201), backup.text

    root = live_server.data_dir / "backups"
    dumps = list((root / addon["name"]).iterdir())
    assert dumps
    assert _mode(root) == 0o700
    assert _mode(root / addon["name"]) == 0o700
    assert all(_mode(dump) == 0o600 for dump in dumps)
