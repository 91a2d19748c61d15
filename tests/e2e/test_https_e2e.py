"""HTTPS everywhere on a real `wharfd up`: the CLI logs in over HTTPS with `wharfd ca`'s root, git pushes
over HTTPS, and the pushed app answers on its default hostname, verified, with HTTP redirected by the app."""

from __future__ import annotations

import http.client
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.utils.e2e import FIXTURES, PASSWORD, Wharf, new_developer
from tests.utils.router import self_signed
from tests.utils.wharf_cli import wharf_executable

pytestmark = pytest.mark.e2e


@dataclass
class PushedApp:
    name: str
    root: Path
    repo: Path
    env: dict[str, str]
    https_port: int
    http_port: int


def cli(
    env: dict[str, str], *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [wharf_executable(), *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def git(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def curl(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["curl", "-sS", "--max-time", "20", "--cacert", str(root), *args], capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def pushed(wharf: Wharf, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PushedApp]:
    """A user logged in over HTTPS with `wharfd ca`'s root, who pushed an app over HTTPS."""
    folder = tmp_path_factory.mktemp("https")
    ca = subprocess.run(
        [sys.executable, "-m", "wharf.platform.wharfd", "ca"], env=wharf.env, capture_output=True, text=True
    )
    assert ca.returncode == 0, ca.stderr
    root = folder / "root.pem"
    root.write_text(ca.stdout)
    developer = new_developer(wharf, folder)
    https_port = int(wharf.env["WHARF_HTTPS_PORT"])
    env = developer.env()
    api = f"https://localhost:{https_port}"
    login = cli(env, "login", "--api", api, "--ca", str(root), "--email", developer.email, "--password-stdin",
                stdin=PASSWORD + "\n")  # fmt: skip
    assert login.returncode == 0, login.stderr
    name = f"tls-{secrets.token_hex(4)}"
    repo = folder / "app"
    shutil.copytree(FIXTURES / "https_redirect", repo)
    developer.git("init", "-q", "-b", "main", cwd=repo)
    developer.commit_all(repo, "first")
    created = cli(env, "apps:create", name, cwd=repo)
    assert created.returncode == 0, created.stderr
    push = git(env, "push", "wharf", "main", cwd=repo)
    assert push.returncode == 0, push.stderr
    yield PushedApp(
        name=name, root=root, repo=repo, env=env, https_port=https_port, http_port=wharf.http_port
    )
    cli(env, "apps:destroy", "-a", name, "--confirm", name)


def eventually_ok(
    check: Callable[[], subprocess.CompletedProcess[str]], timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if answer.returncode == 0 or time.monotonic() > deadline:
            return answer
        time.sleep(0.3)


def test_a_pushed_app_answers_https_on_its_default_hostname_verified_by_the_wharf_root(
    pushed: PushedApp,
) -> None:
    host = f"{pushed.name}.localhost"
    answer = eventually_ok(lambda: curl(pushed.root, "--fail", f"https://{host}:{pushed.https_port}/hello"))
    assert answer.returncode == 0, answer.stderr
    assert "Hello over HTTPS at /hello" in answer.stdout

    # Python's ssl, hostname checked (nothing resolves *.localhost for Python here: connect to 127.0.0.1).
    context = ssl.create_default_context(cafile=str(pushed.root))
    connection = http.client.HTTPSConnection(host, pushed.https_port, context=context, timeout=20)
    connection.sock = context.wrap_socket(
        socket.create_connection(("127.0.0.1", pushed.https_port), timeout=20), server_hostname=host
    )
    connection.request("GET", "/py", headers={"Host": host})
    response = connection.getresponse()
    assert (response.status, response.read()) == (200, b"Hello over HTTPS at /py\n")
    connection.close()
    with pytest.raises(ssl.SSLCertVerificationError):
        ssl.create_default_context().wrap_socket(
            socket.create_connection(("127.0.0.1", pushed.https_port), timeout=20), server_hostname=host
        )


def test_an_app_that_redirects_http_to_https_works_end_to_end(pushed: PushedApp) -> None:
    host = f"{pushed.name}.localhost"
    # The app redirects to https://<host>/ (port 443), as in production; curl maps 443 to the test port.
    connect_to = f"{host}:443:127.0.0.1:{pushed.https_port}"
    summary = "%{num_redirects} %{url_effective}"
    url = f"http://{host}:{pushed.http_port}/checkout?x=1"
    answer = curl(pushed.root, "-L", "--fail", "--connect-to", connect_to, "-w", summary, url)
    assert answer.returncode == 0, answer.stderr
    body, summary = answer.stdout.rsplit("\n", 1)
    assert body == "Hello over HTTPS at /checkout?x=1"
    assert summary == f"1 https://{host}/checkout?x=1"


def test_the_dashboard_and_api_are_served_over_https_with_hsts(wharf: Wharf, pushed: PushedApp) -> None:
    api = f"https://localhost:{pushed.https_port}"
    answer = curl(pushed.root, "-i", "--fail", f"{api}/login")
    assert answer.returncode == 0, answer.stderr
    assert "strict-transport-security: max-age=" in answer.stdout.lower()
    plain = curl(pushed.root, "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
                 f"http://localhost:{pushed.http_port}/api/health")  # fmt: skip
    assert plain.stdout == f"301 {api}/api/health"
    served = httpx.get(f"{wharf.url}/api/ca.pem")
    assert served.status_code == 200 and served.text == pushed.root.read_text()


def test_login_over_https_refuses_a_root_that_did_not_sign_the_api(pushed: PushedApp, tmp_path: Path) -> None:
    other_home = tmp_path / "home"
    other_home.mkdir()
    env = {**pushed.env, "HOME": str(other_home)}
    wrong = Path(self_signed(tmp_path, "localhost").cert_path)
    api = f"https://localhost:{pushed.https_port}"
    login = ["login", "--api", api, "--email", "x@example.com", "--password-stdin"]
    refused = cli(env, *login, "--ca", str(wrong), stdin="whatever\n")
    assert refused.returncode != 0
    assert "not trusted" in refused.stderr
    assert not (other_home / ".netrc").exists()
    # The system trust store alone does not know the Wharf root either.
    refused = cli(env, *login, stdin="x\n")
    assert refused.returncode != 0 and "not trusted" in refused.stderr


def test_git_trusts_the_root_for_the_wharf_remote_only(pushed: PushedApp, tmp_path: Path) -> None:
    url = git(pushed.env, "remote", "get-url", "wharf", cwd=pushed.repo).stdout.strip()
    assert url == f"https://localhost:{pushed.https_port}/git/{pushed.name}.git"
    configured = git(
        pushed.env, "config", "--local", "--get-regexp", r"^http\..*\.sslcainfo$", cwd=pushed.repo
    )
    assert configured.stdout.split() == [
        f"http.{url}.sslcainfo",
        str(Path(pushed.env["HOME"]) / ".config/wharf/ca.pem"),
    ]
    assert git(pushed.env, "ls-remote", "wharf", cwd=pushed.repo).returncode == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    git(pushed.env, "init", "-q", cwd=elsewhere)
    untrusted = git(pushed.env, "ls-remote", url, cwd=elsewhere)
    assert untrusted.returncode != 0
    assert "certificate" in untrusted.stderr.lower()
