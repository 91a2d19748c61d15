"""`wharfd up` as an operator runs it, on one scratch data dir, stopped and started again at will."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.utils.e2e import Developer, Wharf, remove_app_containers, take_routers_down
from tests.utils.network import wait_for_http, wharfd_ports
from tests.utils.test_host import DockerTestHost


class WharfdUp:
    """`wharfd up` as an operator runs it (defaults, private redis-server), restartable on one data dir.

    SETTINGS: more WHARF_* variables, e.g. shorter intervals for a test.
    """

    def __init__(
        self, data_dir: Path, on: DockerTestHost | None = None, settings: dict[str, str] | None = None
    ) -> None:
        env = {
            k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "WHARF_SECRET_KEY", "REDIS_URL")
        }
        env.update(wharfd_ports(), WHARF_DATA_DIR=str(data_dir))
        env.update(settings or {})
        address = "127.0.0.1"
        if on is not None:  # run in the test host's namespace, its API reached at the namespace's address
            address = on.address
            env.update(on.env(), WHARF_API_HOST=address)
        self.on = on
        self.wharf = Wharf(url=f"http://{address}:{env['WHARF_API_PORT']}", data_dir=data_dir, env=env)
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / "wharfd.log"

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            argv = [sys.executable, "-m", "wharf.platform.wharfd", "up"]
            self.process = subprocess.Popen(
                argv if self.on is None else self.on.in_netns(argv),
                env=self.wharf.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_for_http(f"{self.wharf.url}/api/health", timeout=600, process=self.process)
        except RuntimeError:
            self.process.kill()
            print(self.log_path.read_text())
            raise

    def stop(self) -> float:
        """SIGTERM, as systemd would send it; returns how long wharfd took to exit."""
        if self.process is None:
            return 0.0
        began = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
        return time.monotonic() - began


@contextmanager
def serving(server: WharfdUp) -> Iterator[WharfdUp]:
    """SERVER started; on the way out stopped, its routers taken down and its apps' dynos removed."""
    server.start()
    try:
        yield server
    finally:
        server.stop()
        take_routers_down(server.wharf.env)
        remove_app_containers(f"sqlite:///{server.wharf.data_dir / 'wharf.db'}")


def wait_until_served(wharf: Wharf, app: str, timeout: float) -> None:
    """Until the app answers 200 through the router."""
    deadline = time.monotonic() + timeout
    while wharf.app_get(app, "/").status_code != 200:
        assert time.monotonic() < deadline, f"{app} did not answer through the router within {timeout:.0f}s"
        time.sleep(0.5)


def push_new_app(developer: Developer, fixture: str, tmp_path: Path) -> str:
    """A new app of the developer's, with the fixture pushed and deployed; its name."""
    app = developer.create_app()
    repo = developer.app_repo(fixture, app, tmp_path)
    pushed = developer.git("push", "wharf", "main", cwd=repo, check=False)
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    return app
