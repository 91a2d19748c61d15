"""Pushes of review branches: `git push wharf HEAD:refs/heads/review/NAME` to an app of a pipeline with
review apps enabled creates or updates the app `<pipeline>-rv-<name>` and builds the pushed commit on it;
deleting the branch (`git push wharf :review/NAME`) destroys that app with its add-ons, and so does the
API's sweep once the branch has been idle longer than the pipeline allows; either runs app.json's
`scripts.pr-predestroy` of the branch's last pushed commit first.
"""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from wharf.platform.actions import reviewapps
from wharf.platform.actions.addons import add_addon
from wharf.platform.actions.apps import create_app, destroy_app
from wharf.platform.actions.autoscale import sleep_review_app_when_idle
from wharf.platform.actions.config import update_config
from wharf.platform.actions.dynos import current_release_target, runtime_for
from wharf.platform.actions.pipelines import membership
from wharf.platform.actions.reviewapps import BRANCH
from wharf.platform.addons import get_addon_providers
from wharf.platform.db import session_scope, utcnow
from wharf.platform.errors import BadRequest, WharfError
from wharf.platform.models import App, Pipeline, PipelineApp, User
from wharf.platform.repos import repo_path
from wharf.platform.scheduler.dynos import LAUNCHER, oneoff_spec
from wharf.platform.security.crypto import ConfigCipher
from wharf.platform.security.names import validate_app_name
from wharf.platform.settings import Settings
from wharf.platform.textlines import LineSplitter

ZERO = "0" * 40
PREDESTROY_TIMEOUT = 600.0
APP_JSON_MAX_BYTES = 64 * 1024
MAX_REVIEW_ADDONS = 5
Say = Callable[[str], None]
logger = logging.getLogger(__name__)


def review_pipeline(*, settings: Settings, app_name: str, branch: str) -> bool:
    """Is BRANCH, pushed to APP_NAME, a review branch of the app's pipeline?"""
    with session_scope(settings.resolved_database_url) as session:
        pipeline = _pipeline_of(session, app_name)
        return pipeline is not None and reviewapps.branch_matches(pipeline, branch)


def _pipeline_of(session: Session, app_name: str) -> Pipeline | None:
    app = session.scalar(select(App).where(App.name == app_name))
    member = membership(session=session, app=app) if app else None
    return session.get(Pipeline, member.pipeline_id) if member else None


def read_app_json(repo: Path, commit: str) -> dict[str, Any]:
    """The commit's app.json (a blob of at most 64 KB), or {}."""
    spec = f"{commit}:app.json"
    kind = subprocess.run(
        ["git", "--git-dir", str(repo), "cat-file", "-t", spec], capture_output=True, text=True
    )
    if kind.returncode != 0 or kind.stdout.strip() != "blob":
        return {}
    size = subprocess.run(
        ["git", "--git-dir", str(repo), "cat-file", "-s", spec], capture_output=True, text=True
    )
    if not size.stdout.strip().isdigit() or int(size.stdout) > APP_JSON_MAX_BYTES:
        raise BadRequest(
            f"app.json is larger than {APP_JSON_MAX_BYTES // 1024} KB.", error_id="app_json_too_large"
        )
    blob = subprocess.run(["git", "--git-dir", str(repo), "cat-file", "blob", spec], capture_output=True)
    try:
        document = json.loads(blob.stdout)
    except ValueError:
        raise BadRequest("app.json is not valid JSON.", error_id="invalid_app_json") from None
    return document if isinstance(document, dict) else {}


def read_review_manifest(repo: Path, commit: str) -> dict[str, Any]:
    """`environments.review` of the commit's app.json, its add-ons defaulting to the top-level ones."""
    document = read_app_json(repo, commit)
    environments = document.get("environments")
    review = environments.get("review") if isinstance(environments, dict) else None
    if not isinstance(review, dict):
        return {"addons": document.get("addons", [])}
    review.setdefault("addons", document.get("addons", []))
    return review


def predestroy_command(repo: Path, commit: str) -> str | None:
    """app.json's `scripts.pr-predestroy` at the branch's last commit."""
    if commit == ZERO:
        return None
    try:
        scripts = read_app_json(repo, commit).get("scripts")
    except BadRequest:
        return None
    command = scripts.get("pr-predestroy") if isinstance(scripts, dict) else None
    return command if isinstance(command, str) and command.strip() else None


def run_predestroy(
    *, settings: Settings, session: Session, cipher: ConfigCipher, app: App, command: str, say: Say
) -> None:
    """Run the script in a one-off dyno of the app's current release, its output relayed to the push."""
    if app.current_release_version is None:
        return
    runtime = runtime_for(settings)
    release = current_release_target(session, cipher, app)
    say("-----> Running pr-predestroy script...")
    runtime.ensure_network(app.name)
    spec = oneoff_spec(app.name, release, command, process_type="predestroy", launcher=LAUNCHER)
    splitter = LineSplitter()

    def relay(chunk: bytes) -> None:
        for line in splitter.feed(chunk):
            say("       " + line)

    code = runtime.run_oneoff(spec, on_output=relay, timeout=PREDESTROY_TIMEOUT)
    for line in splitter.close():
        if line.strip():
            say("       " + line)
    if code != 0:
        say(f" !     The pr-predestroy script failed with exit code {code}; the app is destroyed anyway.")


def _review_env(review: dict[str, Any]) -> dict[str, str | None]:
    env = review.get("env") or {}
    if not isinstance(env, dict):
        raise BadRequest('app.json "environments.review.env" must be an object.', error_id="invalid_app_json")
    changes: dict[str, str | None] = {}
    for key, value in env.items():
        if isinstance(value, dict):
            value = value.get("value")
        if isinstance(value, str | int | float | bool):
            changes[str(key)] = str(value).lower() if isinstance(value, bool) else str(value)
    return changes


def _addon_kinds(review: dict[str, Any]) -> list[str]:
    kinds = []
    for item in review.get("addons") or []:
        plan = item.get("plan") if isinstance(item, dict) else item
        if isinstance(plan, str) and plan:
            kinds.append(plan)
    if len(kinds) > MAX_REVIEW_ADDONS:
        raise BadRequest(
            f"A review app gets at most {MAX_REVIEW_ADDONS} add-ons.", error_id="too_many_addons"
        )
    return kinds


def prepare_review_app(
    *,
    settings: Settings,
    client: redis.Redis[bytes],
    app_name: str,
    pusher_id: int,
    branch: str,
    repo: Path,
    commit: str,
    say: Say,
) -> str:
    """The review app's name, created (with app.json's review env and add-ons) on the branch's first push."""
    if not BRANCH.fullmatch(branch):
        raise BadRequest(
            "Review branch names take letters, digits and . _ / - (at most 255 characters). "
            "Rename the branch.",
            error_id="invalid_branch",
        )
    cipher = ConfigCipher(settings.secret_key())
    with session_scope(settings.resolved_database_url) as session:
        pipeline = _pipeline_of(session, app_name)
        assert pipeline is not None
        name = validate_app_name(reviewapps.review_app_name(pipeline, branch))
        existing = session.scalar(select(App).where(App.name == name))
        if existing is not None:
            member = membership(session=session, app=existing)
            if member is None or member.pipeline_id != pipeline.id or member.review_branch != branch:
                raise BadRequest(
                    f"The app name {name} is taken by an app that is not this branch's review app. "
                    "Rename the branch.",
                    error_id="name_taken",
                )
            member.last_push_at = utcnow()
            session.commit()
            say(f"-----> Updating review app {name}")
            return name
        review = read_review_manifest(repo, commit)
        owner = session.get(User, pipeline.owner_id)
        actor = session.get(User, pusher_id)
        assert owner is not None and actor is not None
        say(f"-----> Creating review app {name}")
        app = create_app(
            session=session, cipher=cipher, client=client, settings=settings, owner=owner, name=name
        )
        session.add(
            PipelineApp(
                pipeline_id=pipeline.id,
                app_id=app.id,
                stage="review",
                review_branch=branch,
                last_push_at=utcnow(),
            )
        )
        sleep_review_app_when_idle(session=session, app=app, actor=actor)
        session.commit()
        changes = _review_env(review)
        if changes:
            update_config(session=session, cipher=cipher, app=app, actor=actor, changes=changes)
            session.commit()
        providers = get_addon_providers(settings)
        for kind in _addon_kinds(review):
            addon, provisioning = add_addon(
                session=session,
                cipher=cipher,
                providers=providers,
                database_url=settings.resolved_database_url,
                app=app,
                actor=actor,
                kind=kind,
                quotas=settings.quotas,
            )
            say(f"-----> Provisioning {addon.name} ({kind})")
            provisioning()
    return name


def destroy_review_app(
    *,
    settings: Settings,
    client: redis.Redis[bytes],
    app_name: str,
    pusher_id: int,
    branch: str,
    repo: Path,
    old: str,
    say: Say,
) -> int:
    """Run app.json's pr-predestroy (from the branch's last commit OLD), then destroy the branch's review
    app with its add-ons; 0."""
    with session_scope(settings.resolved_database_url) as session:
        pipeline = _pipeline_of(session, app_name)
        assert pipeline is not None
        member = session.scalar(
            select(PipelineApp).where(
                PipelineApp.pipeline_id == pipeline.id, PipelineApp.review_branch == branch
            )
        )
        app = session.get(App, member.app_id) if member else None
        actor = session.get(User, pusher_id)
        if app is None or actor is None:
            say(f"-----> {branch} has no review app")
            return 0
        _predestroy_and_destroy(
            settings=settings,
            session=session,
            client=client,
            app=app,
            actor=actor,
            command=predestroy_command(repo, old),
            say=say,
        )
    return 0


def _predestroy_and_destroy(
    *,
    settings: Settings,
    session: Session,
    client: redis.Redis[bytes],
    app: App,
    actor: User,
    command: str | None,
    say: Say,
) -> None:
    cipher = ConfigCipher(settings.secret_key())
    name = app.name
    if command:
        run_predestroy(settings=settings, session=session, cipher=cipher, app=app, command=command, say=say)
    destroy_app(
        session=session,
        cipher=cipher,
        client=client,
        settings=settings,
        providers=get_addon_providers(settings),
        actor=actor,
        app=app,
        confirm=name,
    )
    say(f"-----> Destroyed review app {name} and its add-ons")


def branch_head(repo: Path, branch: str) -> str | None:
    """The commit `refs/heads/BRANCH` names in the bare repository REPO, if any."""
    if not BRANCH.fullmatch(branch) or not (repo / "HEAD").is_file():
        return None
    found = subprocess.run(
        [
            "git",
            "--git-dir",
            str(repo),
            "rev-parse",
            "--verify",
            "--quiet",
            f"refs/heads/{branch}^{{commit}}",
        ],
        capture_output=True,
        text=True,
    )
    commit = found.stdout.strip()
    return commit if found.returncode == 0 and commit else None


def _idle_predestroy(settings: Settings, session: Session, member: PipelineApp) -> str | None:
    """pr-predestroy at the idle branch's last pushed commit, from the pipeline app it was pushed to."""
    branch = member.review_branch or ""
    for source in reviewapps.review_sources(session=session, member=member):
        repo = repo_path(settings.wharf_data_dir, source)
        commit = branch_head(repo, branch)
        if commit is not None:
            return predestroy_command(repo, commit)
    return None


def sweep_idle_review_apps(
    *, settings: Settings, client: redis.Redis[bytes], now: datetime | None = None, say: Say = logger.info
) -> list[str]:
    """Destroy the review apps idle longer than their pipeline allows, each with its add-ons, after its
    branch's pr-predestroy; the names destroyed."""
    destroyed = []
    with session_scope(settings.resolved_database_url) as session:
        for app, member, owner in reviewapps.idle_review_apps(session=session, now=now or utcnow()):
            name = app.name
            say(f"-----> {name}: {member.review_branch} was last pushed over the pipeline's idle days ago")
            _predestroy_and_destroy(
                settings=settings,
                session=session,
                client=client,
                app=app,
                actor=owner,
                command=_idle_predestroy(settings, session, member),
                say=say,
            )
            destroyed.append(name)
    return destroyed


def review_error(error: WharfError, say: Say) -> int:
    say(f" !     {error.message}")
    return 1
