"""API calls per second with rate limits on vs off, in the same run on the same machine.

Two `wharfd api` processes (SQLite, the Redis of REDIS_URL) differ only in WHARF_RATE_LIMITS; each is
driven in turn, several rounds, by a few threads making authenticated `GET /api/apps` calls on
keep-alive connections. The limits are set high enough never to refuse a call.

    REDIS_URL=redis://127.0.0.1:6379/0 python -m bench.rate_limit_overhead [--seconds 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench.local_ports import free_port
from wharf.platform.actions.invites import create_invite
from wharf.platform.db import session_scope
from wharf.platform.migrate import upgrade_database


@contextmanager
def api_server(data_dir: Path, redis_url: str, limits: bool) -> Iterator[tuple[str, str]]:
    """A live API; yields (url, token of a fresh account)."""
    data_dir.mkdir()
    database_url = f"sqlite:///{data_dir / 'wharf.db'}"
    upgrade_database(database_url)
    port = free_port()
    env = {
        **os.environ,
        "WHARF_DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "WHARF_SECRET_KEY": secrets.token_hex(32),
        "WHARF_API_PORT": str(port),
        "WHARF_API_HOST": "127.0.0.1",
        "WHARF_ENV": "test",
        "WHARF_RUNTIME": "fake",
        "WHARF_RATE_LIMITS": "true" if limits else "false",
        "WHARF_API_RATE_LIMIT": "100000000",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "wharf.platform.wharfd", "api"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        with session_scope(database_url) as session:
            code = create_invite(session=session, created_by=None, max_uses=1).code
        signup = httpx.post(
            f"{url}/api/signup",
            json={
                "invite": code,
                "email": f"bench-{limits}@example.com",
                "password": "correct horse battery",
            },
        )
        signup.raise_for_status()
        yield url, str(signup.json()["token"])
    finally:
        process.terminate()
        process.wait(timeout=15)


def calls_per_second(url: str, token: str, seconds: float, threads: int) -> tuple[float, bool]:
    counts = [0] * threads
    headers_seen = [False] * threads
    deadline = time.monotonic() + seconds

    def drive(index: int) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
            while time.monotonic() < deadline:
                answer = client.get("/api/apps")
                assert answer.status_code == 200, answer.text
                headers_seen[index] = "RateLimit-Remaining" in answer.headers
                counts[index] += 1

    workers = [threading.Thread(target=drive, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / seconds, all(headers_seen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    with (
        tempfile.TemporaryDirectory() as scratch,
        api_server(Path(scratch) / "on", redis_url, limits=True) as on,
        api_server(Path(scratch) / "off", redis_url, limits=False) as off,
    ):
        calls_per_second(*on, 1.0, args.threads)  # warm up both
        calls_per_second(*off, 1.0, args.threads)
        totals = {"on": 0.0, "off": 0.0}
        for round_number in range(1, args.rounds + 1):
            for name, (url, token) in (("off", off), ("on", on)):
                rate, headers = calls_per_second(url, token, args.seconds, args.threads)
                assert headers == (name == "on")
                totals[name] += rate
                print(f"round {round_number} limits {name:3}: {rate:7.1f} calls/s")
    on_rate, off_rate = totals["on"] / args.rounds, totals["off"] / args.rounds
    print(f"limits off: {off_rate:.1f} calls/s, limits on: {on_rate:.1f} calls/s")
    print(f"ratio on/off: {on_rate / off_rate:.3f} ({(1 - on_rate / off_rate) * 100:+.1f}% cost)")


if __name__ == "__main__":
    main()
