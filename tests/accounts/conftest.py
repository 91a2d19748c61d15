"""A live `wharfd api` and its `mail` service, sending to a real SMTP server on loopback."""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
import redis

from tests.conftest import api_env, free_port, wait_for_http
from tests.utils.smtp import Mailbox, smtp_server
from wharf.platform.actions.invites import create_invite
from wharf.platform.db import session_scope

PASSWORD = "correct horse battery"


@dataclass
class MailedServer:
    url: str
    database_url: str
    redis_url: str
    env: dict[str, str]
    mailbox: Mailbox

    def make_invite(self, *, admin: bool = False) -> str:
        with session_scope(self.database_url) as session:
            return create_invite(session=session, created_by=None, grants_admin=admin).code

    def signup(self, email: str | None = None, password: str = PASSWORD) -> tuple[str, str]:
        email = email or f"user-{secrets.token_hex(4)}@example.com"
        code = self.make_invite()
        answer = httpx.post(
            f"{self.url}/api/signup", json={"invite": code, "email": email, "password": password}
        )
        answer.raise_for_status()
        return email, str(answer.json()["token"])

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=f"{self.url}/api", headers=headers, timeout=30)

    def wharfd(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "wharf.platform.wharfd", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def link_in(self, message: EmailMessage, path: str) -> str:
        """The link to `path` in the message's plain-text body, checked against its HTML body."""
        text = Mailbox.text_of(message)
        found = re.search(re.escape(f"{self.url}{path}") + r"\?\S+", text)
        assert found, text
        html = message.get_body(preferencelist=("html",))
        assert html is not None and found.group(0) in html.get_content()
        return found.group(0)


def _start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)


@pytest.fixture(scope="module")
def mailed_server(
    database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MailedServer]:
    data_dir = tmp_path_factory.mktemp("wharf-accounts")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with smtp_server() as mailbox:
        env = api_env(
            database_url,
            redis_url,
            data_dir,
            port,
            WHARF_PUBLIC_URL=url,
            WHARF_SMTP_HOST=mailbox.host,
            WHARF_SMTP_PORT=str(mailbox.port),
            WHARF_MAIL_POLL_SECONDS="0.2",
            WHARF_MAIL_PER_RECIPIENT_PER_HOUR="20",
        )
        module = [sys.executable, "-m", "wharf.platform.wharfd"]
        api = _start([*module, "api"], env, data_dir / "api.log")
        mail = _start([*module, "services", "--only", "mail"], env, data_dir / "mail.log")
        try:
            wait_for_http(f"{url}/api/health", process=api)
            yield MailedServer(
                url=url, database_url=database_url, redis_url=redis_url, env=env, mailbox=mailbox
            )
        finally:
            for process in (api, mail):
                process.terminate()
                process.wait(timeout=15)


@pytest.fixture(autouse=True)
def _fresh_rate_limits(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter("wharf:ratelimit:*"):
        client.delete(key)
    client.close()
