"""A deploy interrupted by a scheduler crash resumes: the `services` process (scheduler, router controller,
log shipper) is killed with SIGKILL while the new release's dynos boot; its supervisor starts it again, the
release goes live, and the app converges to exactly its formation (no duplicate, no lost dyno, nothing of
the old release left), with no failed request through the router meanwhile."""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from pathlib import Path

import docker
import pytest

from tests.utils.chaos import Load, cmdline, process_tree, served_app
from tests.utils.e2e import Developer
from tests.utils.wharfd_up import WharfdUp

__all__ = ["served_app"]

pytestmark = pytest.mark.e2e

WEB_DYNOS = 3


def formation_dynos(client: docker.DockerClient, app: str) -> list[tuple[str, str, str]]:
    """(dyno, release, state) of every formation container of the app (one-offs left out)."""
    found = []
    for container in client.containers.list(
        all=True, ignore_removed=True, filters={"label": f"wharf.app={app}"}
    ):
        labels = container.labels
        if labels.get("wharf.process-type") == "web":
            found.append(
                (f"web.{labels.get('wharf.dyno')}", labels.get("wharf.release", ""), container.status)
            )
    return found


def services_pids(server: WharfdUp) -> list[int]:
    assert server.process is not None
    return [pid for pid in process_tree(server.process.pid) if b"wharfd\x00services" in cmdline(pid)]


def converged(client: docker.DockerClient, app: str, release: str) -> bool:
    dynos = formation_dynos(client, app)
    running = [d for d in dynos if d[2] == "running"]
    names = Counter(name for name, _release, _state in running)
    return (
        len(dynos) == WEB_DYNOS
        and len(running) == WEB_DYNOS
        and all(r == release for _name, r, _state in running)
        and sorted(names) == [f"web.{n}" for n in range(1, WEB_DYNOS + 1)]
    )


def test_a_deploy_interrupted_by_a_scheduler_crash_resumes(
    served_app: tuple[WharfdUp, Developer, str], tmp_path: Path
) -> None:
    server, developer, app = served_app
    # Each new web dyno waits 4 s before its check: the deploy takes long enough to be interrupted.
    repo = next(tmp_path.glob(f"*-{app}"))
    checks = {"healthchecks": {"web": [{"type": "startup", "path": "/", "initialDelay": 4, "attempts": 5}]}}
    (repo / "app.json").write_text(json.dumps(checks))
    developer.commit_all(repo, "slow health checks")
    pushed = developer.git("push", "wharf", "main", cwd=repo, check=False)
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    client = docker.from_env()
    try:
        with developer.api as api:
            api.patch(
                f"/api/apps/{app}/formation", json={"updates": [{"type": "web", "quantity": WEB_DYNOS}]}
            )
            current = str(api.get(f"/api/apps/{app}").json()["current_release"])
        deadline = time.monotonic() + 90
        while not converged(client, app, current):
            assert time.monotonic() < deadline, (
                f"web={WEB_DYNOS} did not converge: {formation_dynos(client, app)}"
            )
            time.sleep(0.5)

        with Load(url=f"http://127.0.0.1:{server.wharf.http_port}/", host=f"{app}.localhost") as load:
            time.sleep(2)
            with developer.api as api:
                api.patch(f"/api/apps/{app}/config", json={"INTERRUPTED": "yes"}).raise_for_status()
                pending = str(api.get(f"/api/apps/{app}/releases").json()[0]["version"])
            assert pending != current
            deadline = time.monotonic() + 60
            while not any(r == pending for _n, r, _s in formation_dynos(client, app)):
                assert time.monotonic() < deadline, "the deploy never started the new release's dynos"
                time.sleep(0.05)
            mid_deploy = formation_dynos(client, app)
            (victim,) = services_pids(server)
            os.kill(victim, signal.SIGKILL)
            with developer.api as api:
                assert str(api.get(f"/api/apps/{app}").json()["current_release"]) == current, (
                    "the release went live before the crash: the test did not interrupt the deploy"
                )
            deadline = time.monotonic() + 120
            while not services_pids(server):
                assert time.monotonic() < deadline, "the supervisor did not start the services process again"
                time.sleep(0.2)
            while True:
                with developer.api as api:
                    live = str(api.get(f"/api/apps/{app}").json()["current_release"])
                if live == pending and converged(client, app, pending):
                    break
                assert time.monotonic() < deadline, f"not converged: {live}, {formation_dynos(client, app)}"
                time.sleep(0.5)
            time.sleep(5)  # and it stays so: no late duplicate from the interrupted deploy
            assert converged(client, app, pending), formation_dynos(client, app)
        answered, failed = load.counts()
        print(f"killed mid-deploy with {mid_deploy}; {answered} answered, {failed} failed")
        assert answered > 200, f"too little load to show anything: {answered} answers"
        assert failed == 0, f"{failed} of {answered + failed} requests failed: {load.failures[:5]}"
        assert server.wharf.app_get(app).status_code == 200
    finally:
        client.close()
