"""Promotion through a pipeline with real git and Docker: the same image, the downstream's own config."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.utils.e2e import Developer, Wharf, new_developer, remove_developer_apps
from tests.utils.wharf_cli import cli_env, run_wharf

pytestmark = pytest.mark.e2e


def push(dev: Developer, repo: Path, *refspec: str) -> str:
    pushed = subprocess.run(
        ["git", "push", "wharf", *(refspec or ("main",))],
        cwd=repo,
        env=dev.env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    return pushed.stdout + pushed.stderr


def served(wharf: Wharf, app: str, expected: str, timeout: float = 90.0) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        answer = wharf.app_get(app)
        text = answer.text
        if answer.status_code == 200 and expected in text:
            return text
        time.sleep(0.5)
    return text


def wharf_cli(dev: Developer, *args: str) -> str:
    done = run_wharf(cli_env(dev.wharf.url, dev.token, dev.home), *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def releases(dev: Developer, app: str) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = json.loads(wharf_cli(dev, "releases", "-a", app, "--json"))
    return listed


@pytest.fixture(scope="module")
def dev(wharf: Wharf, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Developer]:
    made = new_developer(wharf, tmp_path_factory.mktemp("pipelines"))
    yield made
    remove_developer_apps(made)


@pytest.fixture(scope="module")
def staged(dev: Developer, wharf: Wharf, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, Path]:
    """A staging app serving version one, and a production app with its own config, in one pipeline."""
    staging, production = dev.create_app(), dev.create_app()
    repo = dev.app_repo("greeting_app", staging, tmp_path_factory.mktemp("repo"))
    wharf_cli(dev, "config:set", "GREETING=from-staging", "-a", staging)
    wharf_cli(dev, "config:set", "GREETING=from-production", "-a", production)
    push(dev, repo)
    assert "version=one greeting=from-staging" in served(wharf, staging, "version=one")
    pipeline = f"pl-{staging[4:]}"
    wharf_cli(dev, "pipelines:create", pipeline, "-a", staging, "--stage", "staging")
    wharf_cli(dev, "pipelines:add", pipeline, "-a", production, "--stage", "production")
    return staging, production, repo


def test_promotion_reuses_the_image_and_keeps_production_config(
    dev: Developer, wharf: Wharf, staged: tuple[str, str, Path]
) -> None:
    staging, production, _repo = staged
    upstream = next(r for r in releases(dev, staging) if r["current"])
    assert upstream["image_id"] and upstream["image_id"].startswith("sha256:")
    assert upstream["source"] == "push"

    wharf_cli(dev, "pipelines:promote", "-a", staging)
    assert "version=one greeting=from-production" in served(wharf, production, "version=one")
    promoted = releases(dev, production)[0]
    assert promoted["image_id"] == upstream["image_id"]
    assert promoted["source"] == "promotion"
    assert promoted["description"] == f"Promote {staging} v{upstream['version']}"
    assert promoted["current"] is True
    # Nothing was built for production: its builds list is empty.
    assert dev.api.get(f"/api/apps/{production}/builds").json() == []

    info = json.loads(wharf_cli(dev, "pipelines:info", f"pl-{staging[4:]}", "--json"))
    stages = {a["app"]: a for a in info["apps"]}
    assert stages[production]["release"]["image_id"] == upstream["image_id"]


def test_rollback_after_promotion_returns_to_the_earlier_promoted_image(
    dev: Developer, wharf: Wharf, staged: tuple[str, str, Path]
) -> None:
    staging, production, repo = staged
    first_image = releases(dev, production)[0]["image_id"]
    (repo / "VERSION").write_text("two\n")
    dev.commit_all(repo, "two")
    push(dev, repo)
    assert "version=two" in served(wharf, staging, "version=two")
    wharf_cli(dev, "pipelines:promote", "-a", staging, "--to", production)
    assert "version=two greeting=from-production" in served(wharf, production, "version=two")
    second_image = releases(dev, production)[0]["image_id"]
    assert second_image != first_image

    wharf_cli(dev, "releases:rollback", "-a", production)
    assert "version=one greeting=from-production" in served(wharf, production, "version=one")
    rolled = releases(dev, production)[0]
    assert rolled["source"] == "rollback"
    assert rolled["image_id"] == first_image


def test_review_branch_push_creates_an_app_and_branch_deletion_destroys_it(
    dev: Developer, wharf: Wharf, staged: tuple[str, str, Path]
) -> None:
    staging, _production, repo = staged
    pipeline = f"pl-{staging[4:]}"
    wharf_cli(dev, "reviewapps:enable", "-p", pipeline)
    dev.git("checkout", "-q", "-b", "feature", cwd=repo)
    manifest = {
        "environments": {"review": {"env": {"GREETING": "from-review"}, "addons": ["heroku-redis"]}},
        "scripts": {"pr-predestroy": "echo predestroy-saw-$GREETING"},
    }
    (repo / "app.json").write_text(json.dumps(manifest))
    (repo / "VERSION").write_text("review\n")
    dev.commit_all(repo, "review")
    review_app = f"{pipeline}-rv-feature-one"

    output = push(dev, repo, "HEAD:refs/heads/review/feature-one")
    assert f"Creating review app {review_app}" in output, output
    assert f"http://{review_app}.localhost:{wharf.http_port}/" in output, output
    assert "version=review greeting=from-review" in served(wharf, review_app, "version=review")
    info = json.loads(wharf_cli(dev, "pipelines:info", pipeline, "--json"))
    member = next(a for a in info["apps"] if a["app"] == review_app)
    assert (member["stage"], member["review_branch"]) == ("review", "review/feature-one")
    addons = dev.api.get(f"/api/apps/{review_app}/addons").json()
    assert [a["kind"] for a in addons] == ["redis"]
    config = dev.api.get(f"/api/apps/{review_app}/config").json()
    assert config["GREETING"] == "from-review" and "REDIS_URL" in config
    # As on Heroku, a review app's web dyno sleeps when idle and a request wakes it.
    sleeping = dev.api.get(f"/api/apps/{review_app}/autoscale").json()
    assert [(a["type"], a["min"], a["max"]) for a in sleeping] == [("web", 0, 1)]

    (repo / "VERSION").write_text("review-two\n")
    dev.commit_all(repo, "review two")
    output = push(dev, repo, "HEAD:refs/heads/review/feature-one")
    assert f"Updating review app {review_app}" in output, output
    assert "version=review-two" in served(wharf, review_app, "version=review-two")

    output = push(dev, repo, ":review/feature-one")
    assert "predestroy-saw-from-review" in output, output
    assert output.index("predestroy-saw") < output.index(f"Destroyed review app {review_app}")
    assert dev.api.get(f"/api/apps/{review_app}").status_code == 404
    client = docker.from_env()
    try:
        assert (
            client.containers.list(ignore_removed=True, all=True, filters={"name": addons[0]["name"]}) == []
        )
        assert client.volumes.list(filters={"name": addons[0]["name"]}) == []
    finally:
        client.close()
    deadline = time.monotonic() + 30
    while wharf.app_get(review_app).status_code == 200:
        assert time.monotonic() < deadline, "the destroyed review app still answers through the router"
        time.sleep(0.5)


# Run as `wharfd up`'s API runs its sweep, with the install's own settings: the review app's branch is
# made idle (its last push 30 days back), then swept; what the sweep says is printed.
SWEEP = """
import sys
from datetime import timedelta

from sqlalchemy import select, update

from wharf.platform.db import session_scope, utcnow
from wharf.platform.git.review import sweep_idle_review_apps
from wharf.platform.models import App, PipelineApp
from wharf.platform.settings import get_settings
import redis

settings = get_settings()
with session_scope(settings.resolved_database_url) as session:
    app_id = session.scalars(select(App.id).where(App.name == sys.argv[1])).one()
    pushed = utcnow() - timedelta(days=30)
    session.execute(update(PipelineApp).where(PipelineApp.app_id == app_id).values(last_push_at=pushed))
client = redis.Redis.from_url(settings.resolved_redis_url)
print("destroyed:", " ".join(sweep_idle_review_apps(settings=settings, client=client, say=print)))
"""


def test_an_idle_review_app_is_swept_after_its_branchs_pr_predestroy(
    dev: Developer, wharf: Wharf, staged: tuple[str, str, Path]
) -> None:
    staging, _production, repo = staged
    pipeline = f"pl-{staging[4:]}"
    wharf_cli(dev, "reviewapps:enable", "-p", pipeline, "--idle-days", "2")
    dev.git("checkout", "-q", "-B", "idle", cwd=repo)
    manifest = {
        "environments": {"review": {"env": {"GREETING": "from-idle-review"}}},
        "scripts": {"pr-predestroy": "echo predestroy-swept-$GREETING"},
    }
    (repo / "app.json").write_text(json.dumps(manifest))
    (repo / "VERSION").write_text("idle\n")
    dev.commit_all(repo, "idle review")
    review_app = f"{pipeline}-rv-idle-one"
    output = push(dev, repo, "HEAD:refs/heads/review/idle-one")
    assert f"Creating review app {review_app}" in output, output
    assert "version=idle greeting=from-idle-review" in served(wharf, review_app, "version=idle")

    swept = subprocess.run(
        [sys.executable, "-c", SWEEP, review_app],
        env=wharf.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    said = swept.stdout
    assert swept.returncode == 0, said + swept.stderr
    assert "predestroy-swept-from-idle-review" in said, said
    assert said.index("predestroy-swept") < said.index(f"Destroyed review app {review_app}"), said
    assert review_app in said.splitlines()[-1].split(), said
    assert dev.api.get(f"/api/apps/{review_app}").status_code == 404
    info = json.loads(wharf_cli(dev, "pipelines:info", pipeline, "--json"))
    assert review_app not in [a["app"] for a in info["apps"]]
