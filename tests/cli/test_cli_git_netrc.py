"""Real git reads the ~/.netrc entry the CLI writes: the token reaches a `/git/<app>.git` URL."""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from wharf.cli import netrc_file, settings


class GitEndpoint(BaseHTTPRequestHandler):
    """Asks for basic auth like the Wharf git endpoint, and remembers what git sent."""

    seen_authorizations: list[str] = []

    def do_GET(self) -> None:
        authorization = self.headers.get("Authorization")
        if authorization is None:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="wharf"')
            self.end_headers()
            return
        self.seen_authorizations.append(authorization)
        self.send_response(404)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def git_endpoint() -> Iterator[str]:
    GitEndpoint.seen_authorizations = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), GitEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_git_sends_the_token_from_the_netrc_entry(home: Path, git_endpoint: str) -> None:
    netrc_file.write_entry(settings.api_host(git_endpoint), "ann@example.com", "the-api-token")
    env = dict(os.environ, HOME=str(home), GIT_TERMINAL_PROMPT="0")

    subprocess.run(
        ["git", "ls-remote", f"{git_endpoint}/git/shop.git"],
        env=env,
        capture_output=True,
        check=False,
        timeout=30,
    )

    sent = [
        base64.b64decode(value.removeprefix("Basic ")).decode() for value in GitEndpoint.seen_authorizations
    ]
    assert sent and sent[0] == "ann@example.com:the-api-token"
