"""The pre-receive hook: turn a push to main or master into a build, and stream it back to the pusher.

After the build, the hook waits for the scheduler to deploy the new release and relays its release
phase and launch, so the push fails when the release cannot go live. git sends this hook's output
to the client as `remote:` lines as it is written, and rejects the push when it exits non-zero, so a
failed build or deploy leaves the branch, and the running release, untouched.
Pushes to one app reach this hook one at a time: the HTTP endpoint holds the app's push lock.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import redis

from wharf.platform.actions.apps import token_may_still_push
from wharf.platform.actions.builds import start_build
from wharf.platform.actions.ssh_keys import key_may_still_push
from wharf.platform.builds.compile import BuildFailed
from wharf.platform.errors import WharfError
from wharf.platform.git.review import destroy_review_app, prepare_review_app, review_error, review_pipeline
from wharf.platform.progress import BuildEnd, follow, follow_deploy
from wharf.platform.settings import Settings, get_settings

ZERO = "0" * 40
RECHECK_SECONDS = 5.0
DEPLOY_BRANCHES = ("refs/heads/main", "refs/heads/master")
SKIP_TESTS_OPTIONS = frozenset({"ci.skip", "ci.skip=true", "ci.skip=1"})
MAX_PUSH_OPTIONS = 32


def push_options(environ: dict[str, str] | os._Environ[str]) -> list[str]:
    """The `git push -o` options git hands the hook (GIT_PUSH_OPTION_0...), at most MAX_PUSH_OPTIONS."""
    count = environ.get("GIT_PUSH_OPTION_COUNT", "0")
    total = min(int(count), MAX_PUSH_OPTIONS) if count.isdigit() else 0
    return [environ.get(f"GIT_PUSH_OPTION_{index}", "") for index in range(total)]


def skips_tests(options: list[str]) -> bool:
    return any(option.strip().lower() in SKIP_TESTS_OPTIONS for option in options)


def say(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def pick_commit(updates: list[tuple[str, str, str]]) -> str | None:
    """The commit to deploy, or None after saying why the push is refused."""
    commit = None
    for _old, new, ref in updates:
        branch = ref.removeprefix("refs/heads/")
        if ref not in DEPLOY_BRANCHES:
            say(f" !     Pushed to {branch}: Wharf deploys main or master only.")
            say(f" !     To deploy this branch, run: git push wharf {branch}:main")
            return None
        if new == ZERO:
            say(f" !     Deleting {branch} is not allowed: it is what the app runs.")
            return None
        commit = new
    return commit


class AccessCheck:
    """Re-asks every RECHECK_SECONDS whether the pusher's token and the app are still theirs."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # Over HTTP the push authenticated with a token, over SSH with a key.
        self.credential = "WHARF_PUSH_KEY_ID" if "WHARF_PUSH_KEY_ID" in os.environ else "WHARF_PUSH_TOKEN_ID"
        self.ids = {k: os.environ.get(k, "") for k in (self.credential, "WHARF_PUSHER_ID", "WHARF_APP_ID")}
        self.checked = time.monotonic()

    def ended(self) -> bool:
        if (
            not all(v.isdigit() for v in self.ids.values())
            or time.monotonic() - self.checked < RECHECK_SECONDS
        ):
            return False
        self.checked = time.monotonic()
        database_url = self.settings.resolved_database_url
        user_id, app_id = int(self.ids["WHARF_PUSHER_ID"]), int(self.ids["WHARF_APP_ID"])
        credential_id = int(self.ids[self.credential])
        if self.credential == "WHARF_PUSH_KEY_ID":
            allowed = key_may_still_push(
                database_url=database_url, key_id=credential_id, user_id=user_id, app_id=app_id
            )
        else:
            allowed = token_may_still_push(
                database_url=database_url, token_id=credential_id, user_id=user_id, app_id=app_id
            )
        if not allowed:
            what = "key was removed" if self.credential == "WHARF_PUSH_KEY_ID" else "token was revoked"
            say(f" !     Access ended: the {what}, or the app was destroyed or changed hands.")
        return not allowed


def _stream(client: redis.Redis[bytes], build_id: int, settings: Settings, app_name: str) -> int:
    access = AccessCheck(settings)
    for item in follow(client, build_id):
        if access.ended():
            return 1
        if isinstance(item, BuildEnd):
            if item.status == "succeeded" and item.release_version is not None:
                say(f"-----> Released v{item.release_version}")
                return _stream_deploy(client, settings, app_name, item.release_version, access)
            say(f" !     Push rejected: {item.message}")
            say(" !     The running release is untouched.")
            return 1
        say(item)
    return 1


def _stream_deploy(
    client: redis.Redis[bytes], settings: Settings, app_name: str, version: int, access: AccessCheck
) -> int:
    """Wait for the scheduler to deploy the release, relaying the release phase and the launch."""
    for item in follow_deploy(client, app_name, version):
        if access.ended():
            return 1
        if isinstance(item, BuildEnd):
            if item.status == "succeeded":
                say(f"-----> {item.message}")
                say(f"       {settings.app_web_url(app_name)} deployed to Wharf")
                return 0
            if item.status == "superseded":
                say(f"-----> {item.message}")
                return 0
            say(f" !     Push rejected: {item.message}")
            return 1
        say(item)
    return 1


def _review_push(
    settings: Settings,
    client: redis.Redis[bytes],
    app_name: str,
    pusher_id: int,
    update: tuple[str, str],
    branch: str,
) -> int:
    """Create, update (and build) or destroy the branch's review app; UPDATE is (old, new)."""
    old, new = update
    try:
        if new == ZERO:
            return destroy_review_app(
                settings=settings,
                client=client,
                app_name=app_name,
                pusher_id=pusher_id,
                branch=branch,
                repo=Path.cwd(),
                old=old,
                say=say,
            )
        name = prepare_review_app(
            settings=settings,
            client=client,
            app_name=app_name,
            pusher_id=pusher_id,
            branch=branch,
            repo=Path.cwd(),
            commit=new,
            say=say,
        )
    except WharfError as error:
        return review_error(error, say)
    say(f"       {settings.app_web_url(name)}")
    say(f"-----> Building {name} from commit {new[:7]}")
    return _build(settings, client, name, commit=new, pusher_id=pusher_id)


def _build(
    settings: Settings,
    client: redis.Redis[bytes],
    app_name: str,
    *,
    commit: str,
    pusher_id: int,
    skip_tests: bool = False,
) -> int:
    """Start the pushed commit's build and relay it; a build refused before it starts says why."""
    try:
        build_id = start_build(
            skip_tests=skip_tests,
            settings=settings,
            client=client,
            app_name=app_name,
            pusher_id=pusher_id,
            repo=Path.cwd(),
            commit=commit,
        )
    except BuildFailed as refused:
        say(f" !     {refused}")
        return 1
    return _stream(client, build_id, settings, app_name)


def main() -> int:
    app_name = os.environ["WHARF_APP"]
    pusher_id = int(os.environ["WHARF_PUSHER_ID"])
    updates = [tuple(line.split()[:3]) for line in sys.stdin.read().splitlines() if line.strip()]
    settings = get_settings()
    client = redis.Redis.from_url(settings.resolved_redis_url)
    deploys = []
    for u in updates:
        if len(u) != 3:
            continue
        branch = u[2].removeprefix("refs/heads/")
        if u[2] not in DEPLOY_BRANCHES and review_pipeline(
            settings=settings, app_name=app_name, branch=branch
        ):
            if code := _review_push(settings, client, app_name, pusher_id, (u[0], u[1]), branch):
                return code
        else:
            deploys.append((u[0], u[1], u[2]))
    if not deploys:
        return 0
    commit = pick_commit(deploys)
    if commit is None:
        return 1
    say(f"-----> Building {app_name} from commit {commit[:7]}")
    return _build(
        settings,
        client,
        app_name,
        commit=commit,
        pusher_id=pusher_id,
        skip_tests=skips_tests(push_options(os.environ)),
    )


if __name__ == "__main__":
    sys.exit(main())
