"""Output and input throughput of `wharf run` without a terminal, against `docker exec` (same run).

A scratch `wharfd api` on the Docker runtime serves one app whose release is the stack's run image;
the installed `wharf` command runs `seq` (about 50 MB of output) and `cat` of 50 MB piped in, and so
does `docker exec` into a running container of the same image. Each is timed a few times; the best
times are compared.

Run: .venv/bin/python -m bench.run_throughput [--rounds 3]  (needs Docker and the stack images)
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import docker
import httpx

from bench.local_ports import free_port
from wharf.platform.actions.invites import create_invite
from wharf.platform.db import session_scope
from wharf.platform.migrate import upgrade_database
from wharf.platform.models import App, User
from wharf.platform.records.releases import create_release
from wharf.platform.security.crypto import ConfigCipher

SEQ_LINES = 6_388_888  # `seq 1 N` prints 50.0 MB
INPUT_BYTES = 50 * 1024 * 1024
RUN_IMAGE = os.environ.get("WHARF_RUN_IMAGE", "wharf/stack-run:trixie")


@dataclass
class Api:
    url: str
    token: str
    app: str


@contextmanager
def scratch_api() -> Iterator[Api]:
    """`wharfd api` on a scratch data dir, with a user and an app whose current release is RUN_IMAGE."""
    with tempfile.TemporaryDirectory(prefix="wharf-bench-run-") as scratch:
        data_dir = Path(scratch)
        secret = secrets.token_hex(32)
        database_url = f"sqlite:///{data_dir / 'wharf.db'}"
        upgrade_database(database_url)
        port = free_port()
        env = {
            **os.environ,
            "WHARF_DATA_DIR": str(data_dir),
            "DATABASE_URL": database_url,
            "WHARF_SECRET_KEY": secret,
            "WHARF_API_PORT": str(port),
            "WHARF_ENV": "test",
            "WHARF_RUNTIME": "docker",
            "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"),
        }
        with (data_dir / "api.log").open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "wharf.platform.wharfd", "api"], env=env, stdout=log, stderr=log
            )
        url = f"http://127.0.0.1:{port}"
        app = f"bench-{secrets.token_hex(3)}"
        try:
            _wait_for(f"{url}/api/health", process)
            with session_scope(database_url) as session:
                invite = create_invite(session=session, created_by=None, max_uses=1).code
            signup = httpx.post(
                f"{url}/api/signup",
                json={"invite": invite, "email": "bench@example.com", "password": "correct horse battery"},
            )
            signup.raise_for_status()
            token = signup.json()["token"]
            headers = {"Authorization": f"Bearer {token}"}
            httpx.post(f"{url}/api/apps", json={"name": app}, headers=headers).raise_for_status()
            _release(database_url, ConfigCipher(secret), app)
            yield Api(url=url, token=token, app=app)
        finally:
            process.terminate()
            process.wait(timeout=30)
            _remove_app_containers(app)


def _wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("wharfd api exited")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def _release(database_url: str, cipher: ConfigCipher, app_name: str) -> None:
    with session_scope(database_url) as session:
        app = session.query(App).filter_by(name=app_name).one()
        owner = session.query(User).filter_by(email="bench@example.com").one()
        release = create_release(
            session=session,
            cipher=cipher,
            app=app,
            actor=owner,
            description="bench release",
            config={},
            image=RUN_IMAGE,
            process_types={},
            status="succeeded",
        )
        app.current_release_version = release.version


def _remove_app_containers(app: str) -> None:
    client = docker.from_env()
    for container in client.containers.list(all=True, filters={"label": f"wharf.app={app}"}):
        container.remove(force=True)
    for network in client.networks.list(names=[f"wharf-app-{app}"]):
        network.remove()
    client.close()


@dataclass(frozen=True)
class Timing:
    whole: float  # seconds from starting the command to its exit
    streaming: float  # seconds from the first byte of output to the last
    sha256: str


def timed(argv: list[str], *, env: dict[str, str], stdin: Path | None) -> Timing:
    digest = hashlib.sha256()
    first = None
    with open(stdin or os.devnull, "rb") as source:
        started = time.monotonic()
        process = subprocess.Popen(argv, env=env, stdin=source, stdout=subprocess.PIPE)
        assert process.stdout is not None
        while chunk := process.stdout.read1(1 << 20):
            first = first or time.monotonic()
            digest.update(chunk)
        last = time.monotonic()
        code = process.wait()
        ended = time.monotonic()
    if code != 0:
        raise RuntimeError(f"{argv[:4]} exited with {code}")
    return Timing(whole=ended - started, streaming=last - (first or last), sha256=digest.hexdigest())


def best(argv: list[str], rounds: int, *, env: dict[str, str], stdin: Path | None) -> Timing:
    """The fastest of ROUNDS runs, each part on its own (a shared host is noisy)."""
    runs = [timed(argv, env=env, stdin=stdin) for _ in range(rounds)]
    if len({run.sha256 for run in runs}) != 1:
        raise RuntimeError(f"{argv[:4]} printed different output from one run to the next")
    return Timing(min(r.whole for r in runs), min(r.streaming for r in runs), runs[0].sha256)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    wharf = shutil.which("wharf", path=str(Path(sys.executable).parent)) or "wharf"
    client = docker.from_env()
    with tempfile.TemporaryDirectory(prefix="wharf-bench-input-") as scratch, scratch_api() as api:
        data = Path(scratch) / "input.bin"
        data.write_bytes(os.urandom(INPUT_BYTES))
        expected_input = hashlib.sha256(data.read_bytes()).hexdigest()
        env = {**os.environ, "WHARF_API_URL": api.url, "WHARF_API_TOKEN": api.token}
        target = client.containers.run(RUN_IMAGE, ["sleep", "3600"], detach=True, remove=True)
        tools = {
            "docker exec": ["docker", "exec", "-i", target.id],
            "docker run": ["docker", "run", "--rm", "-i", "--log-driver", "none", RUN_IMAGE],
            "wharf run": [wharf, "run", "-a", api.app, "--"],
        }
        works = {"seq": (["seq", "1", str(SEQ_LINES)], None), "cat": (["cat"], data)}
        try:
            times = {
                (tool, work): best([*prefix, *argv], rounds, env=env, stdin=stdin)
                for tool, prefix in tools.items()
                for work, (argv, stdin) in works.items()
            }
        finally:
            target.remove(force=True)
            client.close()
    for work in works:
        outputs = {times[(tool, work)].sha256 for tool in tools}
        assert len(outputs) == 1, f"{work}: the tools' outputs differ"
    assert times[("wharf run", "cat")].sha256 == expected_input, "cat did not come back byte-exact"
    report(times)


def report(times: dict[tuple[str, str], Timing]) -> None:
    labels = {"seq": "seq, 50 MB out", "cat": "cat, 50 MiB in and out"}
    for work, label in labels.items():
        print(f"{label}:")
        for tool in ("docker exec", "docker run", "wharf run"):
            timing = times[(tool, work)]
            print(f"  {tool:<12} whole {timing.whole:6.2f} s   first to last byte {timing.streaming:6.2f} s")
        wharf, exec_, run = (times[(tool, work)] for tool in ("wharf run", "docker exec", "docker run"))
        print(
            f"  streaming ratio wharf run / docker exec: {wharf.streaming / max(exec_.streaming, 1e-3):.2f}"
        )
        print(f"  whole-command ratio wharf run / docker run: {wharf.whole / run.whole:.2f}")


if __name__ == "__main__":
    main()
