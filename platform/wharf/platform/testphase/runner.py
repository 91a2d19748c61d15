"""One test run: throwaway add-ons on a throwaway network, then test-setup and test in a one-off dyno.

The test dyno runs the release image unprivileged with the app's dyno size, `CI=true`, app.json's
`environments.test.env` and the URLs of its throwaway add-ons (as an attachment would set them).
Everything the run started is removed when it ends, whatever the outcome.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import secrets
import shlex
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from wharf.platform.addons import AddonProviders, AddonSpec, build_addon_providers
from wharf.platform.addons.base import KINDS, AddonError
from wharf.platform.runtime import get_runtime
from wharf.platform.runtime.base import DynoSpec, NetworkInUse, Runtime, WharfRuntimeError, network_name
from wharf.platform.scheduler.dynos import LABEL_ONEOFF, LAUNCHER
from wharf.platform.settings import Settings
from wharf.platform.testphase.manifest import TestEnvironment
from wharf.platform.textlines import LineSplitter

log = logging.getLogger(__name__)
Write = Callable[[str], None]
TEST_PROCESS = "test"
INDENT = "       "


@dataclass(frozen=True)
class TestTarget:
    """Which app and run the tests belong to, and the image and dyno size they run with."""

    __test__ = False

    app: str
    number: int
    image: str
    size: str = "basic"
    # What runs the script in the image: the slug launcher (profile.d, then bash -c) by default.
    launcher: tuple[str, ...] = LAUNCHER


@dataclass
class TestOutcome:
    __test__ = False

    status: str  # succeeded | failed | errored
    exit_code: int | None
    message: str
    output: str = ""


@dataclass
class KeptOutput:
    """The last `limit` bytes of a run's output, for its record (the push sees every line)."""

    limit: int
    lines: deque[str] = field(default_factory=deque)
    size: int = 0
    dropped: bool = False

    def add(self, line: str) -> None:
        self.lines.append(line)
        self.size += len(line.encode()) + 1
        while self.size > self.limit and self.lines:
            self.size -= len(self.lines.popleft().encode()) + 1
            self.dropped = True

    def text(self) -> str:
        head = ["[earlier output dropped]"] if self.dropped else []
        return "\n".join([*head, *self.lines])


@functools.lru_cache(maxsize=2)
def _runtime(name: str, installation: str) -> Runtime:
    """One runtime per worker process: it keeps its Docker connections and what it learnt of the host."""
    return get_runtime(name, installation=installation)


def ci_network_owner(app: str, number: int) -> str:
    """The owner name of a run's network: a dot keeps it apart from every app name."""
    return f"{app}.ci{number}"


def addon_name(target: TestTarget, kind: str) -> str:
    return f"ci-{target.app}-{target.number}-{kind}"


def run_tests(
    settings: Settings, target: TestTarget, environment: TestEnvironment, write: Write
) -> TestOutcome:
    """Run the app's tests against its image; never raises for what the tenant's code does."""
    kept = KeptOutput(settings.wharf_test_output_bytes)

    def say(line: str) -> None:
        kept.add(line)
        write(line)

    runtime = _runtime(settings.wharf_runtime, settings.installation_id)
    providers = build_addon_providers(settings) if environment.addons else None
    owner = ci_network_owner(target.app, target.number)
    try:
        with _throwaway_addons(providers, runtime, target, environment, say) as urls:
            outcome = _run_dyno(settings, runtime, target, environment, urls, say)
    except (AddonError, WharfRuntimeError) as error:
        log.warning("test run %s of %s errored: %s", target.number, target.app, error)
        say(f" !     The test environment could not be set up: {error}")
        outcome = TestOutcome("errored", None, f"The test environment could not be set up: {error}")
    finally:
        with contextlib.suppress(NetworkInUse):
            runtime.remove_network(owner)
    outcome.output = kept.text()
    return outcome


@contextlib.contextmanager
def _throwaway_addons(
    providers: AddonProviders | None,
    runtime: Runtime,
    target: TestTarget,
    environment: TestEnvironment,
    say: Write,
) -> Iterator[dict[str, str]]:
    """Each add-on of environments.test, started for this run and removed with its data afterwards."""
    owner = ci_network_owner(target.app, target.number)
    runtime.ensure_network(owner)
    started: list[tuple[AddonSpec, str]] = []
    urls: dict[str, str] = {}
    try:
        for kind in environment.addons:
            assert providers is not None
            provider = providers.for_kind(kind)
            spec = AddonSpec(
                name=addon_name(target, kind), app=owner, kind=kind, credentials=provider.new_credentials()
            )
            started.append((spec, kind))
            say(f"-----> Starting a throwaway {KINDS[kind].title} for the tests")
            provider.provision(spec, progress=lambda _line: None)
            variable = KINDS[kind].env_var
            urls[variable] = provider.connection_url(spec)
            tls = provider.tls_url(spec)
            if tls:
                urls[variable.removesuffix("_URL") + "_TLS_URL"] = tls
        yield urls
    finally:
        for spec, kind in reversed(started):
            try:
                assert providers is not None
                providers.for_kind(kind).deprovision(spec)
            except Exception:
                log.exception("could not remove the test add-on %s", spec.name)


def _script(environment: TestEnvironment, marker: str) -> str:
    """test-setup then test in one shell, so setup's files are there for the tests."""
    if environment.setup is None:
        return environment.test
    return (
        f"( {environment.setup}\n) || {{ wharf_code=$?; echo {shlex.quote(marker)} $wharf_code; "
        f"exit $wharf_code; }}\n{environment.test}"
    )


def _run_dyno(
    settings: Settings,
    runtime: Runtime,
    target: TestTarget,
    environment: TestEnvironment,
    urls: dict[str, str],
    say: Write,
) -> TestOutcome:
    marker = f"wharf-test-setup-failed-{secrets.token_hex(8)}"
    spec = DynoSpec(
        app=target.app,
        process_type=TEST_PROCESS,
        number=target.number,
        release=0,
        image=target.image,
        command=(*target.launcher, _script(environment, marker))
        if target.launcher
        else _script(environment, marker),
        env={**dict(environment.env), **urls, "CI": "true"},
        size=target.size,
        network=network_name(ci_network_owner(target.app, target.number)),
        labels={LABEL_ONEOFF: "1"},
    )
    splitter = LineSplitter()
    setup_failed = False

    def relay(chunk: bytes) -> None:
        nonlocal setup_failed
        for line in splitter.feed(chunk):
            if line.startswith(marker):
                setup_failed = True
                continue
            say(INDENT + line)

    timeout = settings.wharf_test_timeout_seconds
    if environment.setup is not None:
        say(f"-----> Running test-setup: {environment.setup}")
    say(f"-----> Running tests: {environment.test}")
    started = time.monotonic()
    code = runtime.run_oneoff(spec, on_output=relay, timeout=timeout)
    for line in splitter.close():
        if line.strip() and not line.startswith(marker):
            say(INDENT + line)
    if time.monotonic() - started >= timeout:
        minutes = timeout / 60
        message = (
            f"The tests did not finish within {minutes:g} minutes and were stopped "
            "(the operator's limit, WHARF_TEST_TIMEOUT_SECONDS)."
        )
        return TestOutcome("failed", code, message)
    if setup_failed:
        return TestOutcome("errored", code, f"test-setup failed with exit code {code}")
    if code != 0:
        return TestOutcome("failed", code, f"Tests failed with exit code {code}")
    return TestOutcome("succeeded", 0, "Tests passed")
