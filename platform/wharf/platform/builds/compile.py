"""Run Heroku-API buildpacks (detect -> compile -> release) in a builder container and pack the slug.

The builder is the stack's build image with the app at /app (where it also lives at run time, so paths
written during the build stay valid), the per-app cache at /cache, config vars as files in /env, and the
host CA bundle mounted so package registries are reachable.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import docker

from wharf.platform.builds.buildpack_specs import buildpack_spec_problem
from wharf.platform.builds.processes import merge_release_documents, read_procfile
from wharf.platform.builds.reuse import valid_inputs
from wharf.platform.builds.slugignore import apply_slugignore
from wharf.platform.builds.tenant_files import read_tenant_text, tenant_file_names
from wharf.platform.languages.prepare import (
    RUNTIMES_IN_BUILDER,
    LanguageSettings,
    LanguageUnavailable,
    prepare_languages,
)
from wharf.platform.stack.images import DEFAULT_BUILD_IMAGE, DYNO_UID, HOST_CA_BUNDLE
from wharf.platform.textlines import MAX_LINE_CHARS, split_capped_lines

OutputCallback = Callable[[str], None]
CONFIG_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
RELEASE_DOCUMENT = re.compile(r"release-[0-9]{1,3}\.yml")
MAX_BUILDPACKS = 64
MAX_LISTING_BYTES = 64 * 1024
CA_PATH_IN_CONTAINER = "/etc/ssl/certs/ca-certificates.crt"
BUILDER_LABEL = "io.wharf.role"
# HOME inside the builder container: a scratch directory the build tools may write to (~/.npm and such).
BUILDER_HOME = "/tmp"  # noqa: S108


def default_buildpacks_dir() -> Path:
    """The built-in buildpacks: $WHARF_BUILDPACKS_DIR, else `buildpacks/` next to the source tree."""
    configured = os.environ.get("WHARF_BUILDPACKS_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[4] / "buildpacks"


@dataclass(frozen=True)
class BuildLimits:
    """Resources one build may use, buildpack or Dockerfile alike; a build over its time is killed."""

    memory: str = "2g"
    cpus: float = 2.0
    pids: int = 4096
    timeout_seconds: float = 15 * 60
    max_slug_bytes: int = 1024**3
    network: str = "bridge"

    @property
    def memory_bytes(self) -> int:
        units = {"k": 1024, "m": 1024**2, "g": 1024**3}
        suffix = self.memory[-1].lower()
        return int(float(self.memory[:-1]) * units[suffix]) if suffix in units else int(self.memory)


@dataclass(frozen=True)
class CompileResult:
    """What the release step needs: who built it, how to run it, and the built app.

    ``reuse_inputs`` lists the files the buildpacks' compile depended on, when every buildpack said
    (see ``wharf.platform.builds.reuse``); None when the output may depend on any file of the app.
    """

    buildpacks: list[str]
    process_types: dict[str, str]
    config_vars: dict[str, str]
    app_dir: Path
    slug_path: Path | None
    slug_bytes: int | None
    reuse_inputs: list[str] | None


class BuildFailed(Exception):
    """The build could not produce a slug; the message is for the person who pushed."""


class BuildTimedOut(BuildFailed):
    pass


class SlugTooLarge(BuildFailed):
    pass


@dataclass
class _Workspace:
    root: Path
    app: Path = field(init=False)
    env: Path = field(init=False)
    output: Path = field(init=False)

    def __post_init__(self) -> None:
        self.app = self.root / "app"
        self.env = self.root / "env"
        self.output = self.root / "output"


def _builder_user() -> tuple[int, int]:
    return (DYNO_UID, DYNO_UID) if os.geteuid() == 0 else (os.getuid(), os.getgid())


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    if os.geteuid() != 0:
        return
    os.lchown(path, uid, gid)
    for current, dirs, files in os.walk(path):
        for name in dirs + files:
            os.lchown(os.path.join(current, name), uid, gid)


def _prepare_workspace(
    work: _Workspace, *, source_dir: Path, cache_dir: Path, env: Mapping[str, str], on_output: OutputCallback
) -> None:
    if work.root.exists():
        shutil.rmtree(work.root)
    work.root.mkdir(parents=True, mode=0o700)
    work.root.chmod(0o700)
    shutil.copytree(source_dir, work.app, symlinks=True, ignore=shutil.ignore_patterns(".git"))
    strip_slugignored(work.app, on_output)
    work.env.mkdir(mode=0o700)
    work.env.chmod(0o700)
    for name, value in env.items():
        if CONFIG_VAR_NAME.fullmatch(name):
            _write_private(work.env / name, value)
    work.output.mkdir()
    uid, gid = _builder_user()
    for path in (work.app, work.env, work.output):
        _chown_tree(path, uid, gid)
    if not cache_dir.exists():
        cache_dir.mkdir(parents=True)
        _chown_tree(cache_dir, uid, gid)


def _write_private(path: Path, value: str) -> None:
    """A config var's file: created 0600, as it holds the value in clear while the build runs."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)


def strip_slugignored(source_dir: Path, on_output: OutputCallback) -> None:
    """Removes what .slugignore lists from SOURCE_DIR (a scratch copy of the source)."""
    removed = apply_slugignore(source_dir)
    if removed:
        on_output(f"-----> Removed {len(removed)} paths listed in .slugignore")


def _custom_buildpack_mounts(specs: Sequence[str]) -> tuple[list[str], dict[str, dict[str, str]]]:
    """Host directories named by the caller (never by an app's config) are mounted read-only;
    URLs and names pass through."""
    resolved: list[str] = []
    mounts: dict[str, dict[str, str]] = {}
    for index, spec in enumerate(specs):
        if spec.startswith("/") and Path(spec).is_dir():
            target = f"/opt/wharf-custom-buildpacks/{index}"
            mounts[spec] = {"bind": target, "mode": "ro"}
            resolved.append(target)
        else:
            resolved.append(spec)
    return resolved, mounts


def _lines(chunks: Iterator[bytes]) -> Iterator[str]:
    """The builder's output as lines; a line longer than the cap is cut, never held whole."""
    return split_capped_lines(chunks, MAX_LINE_CHARS)


def _container_environment(env: Mapping[str, str], source_version: str | None, stack: str) -> dict[str, str]:
    environment = {
        "HOME": BUILDER_HOME,
        "STACK": stack,
        "SSL_CERT_FILE": CA_PATH_IN_CONTAINER,
        "NODE_EXTRA_CA_CERTS": CA_PATH_IN_CONTAINER,
        "PIP_CERT": CA_PATH_IN_CONTAINER,
        "REQUESTS_CA_BUNDLE": CA_PATH_IN_CONTAINER,
    }
    if source_version:
        environment["SOURCE_VERSION"] = source_version
    return environment


def _run_builder(
    client: Any, *, run_kwargs: dict[str, Any], limits: BuildLimits, on_output: OutputCallback
) -> int:
    container = client.containers.run(detach=True, **run_kwargs)
    timed_out = threading.Event()

    def kill_hung_build() -> None:
        timed_out.set()
        container.kill()

    timer = threading.Timer(limits.timeout_seconds, kill_hung_build)
    timer.start()
    try:
        for line in _lines(container.logs(stream=True, follow=True)):
            on_output(line)
        status = int(container.wait()["StatusCode"])
    finally:
        timer.cancel()
        container.remove(force=True)
    if timed_out.is_set():
        raise BuildTimedOut(f"The build took longer than {limits.timeout_seconds:.0f} s and was stopped.")
    return status


def _name_lines(text: str | None) -> list[str]:
    return [name for name in (text or "").split("\n") if name][:MAX_BUILDPACKS]


def _detected_buildpacks(work: _Workspace) -> list[str]:
    names = _name_lines(
        read_tenant_text(
            work.output, "buildpacks", max_bytes=MAX_LISTING_BYTES, shown_as="/output/buildpacks"
        )
    )
    if names == ["Multipack"]:
        multi = read_tenant_text(work.app, ".wharf/multi/buildpacks", max_bytes=MAX_LISTING_BYTES)
        names = _name_lines(multi) or names
    return [name[:100] for name in names if not CONTROL_CHARACTERS.search(name)]


def _pack_slug(work: _Workspace, limits: BuildLimits, on_output: OutputCallback) -> Path:
    slug = work.root / "slug.tgz"
    on_output("-----> Compressing the slug")
    subprocess.run(
        [
            "tar",
            "--numeric-owner",
            "--use-compress-program=gzip -1",
            "-C",
            str(work.app),
            "-cf",
            str(slug),
            ".",
        ],
        check=True,
    )
    size = slug.stat().st_size
    on_output(f"       Done: {size / 1e6:.1f} MB")
    check_slug_size(size, limits, "compressed slug")
    return slug


def check_slug_size(size: int, limits: BuildLimits, what: str = "slug") -> None:
    """Refuses a slug over the limit, saying how to make it smaller."""
    if size > limits.max_slug_bytes:
        raise SlugTooLarge(
            f"The {what} is {size / 1e6:.0f} MB, "
            f"over the {limits.max_slug_bytes / 1e6:.0f} MB limit. "
            "List what the app does not need at run time in .slugignore."
        )


def _declared_inputs(work: _Workspace, buildpack_count: int) -> list[str] | None:
    """The union of the files each buildpack said its compile read; None when one did not say."""
    declared: list[str] = []
    for index in range(buildpack_count):
        listing = read_tenant_text(
            work.output, f"inputs-{index}", max_bytes=MAX_LISTING_BYTES, shown_as=f"/output/inputs-{index}"
        )
        if listing is None:
            return None
        declared += listing.splitlines()
    return valid_inputs(declared) if buildpack_count else None


@dataclass(frozen=True)
class CompileRequest:
    """What to compile and how: the source, where to work, the config vars and the builder to use.

    BUILDPACKS (names, host paths, git or tarball URLs, given by Wharf itself) replace detection; when
    empty, a BUILDPACK_URL config var (a name or URL only, see ``buildpack_specs``) is honoured, then the
    built-ins are tried in order. WORK_DIR is replaced; it keeps the
    built app in WORK_DIR/app. PACK_SLUG=False skips the slug archive.
    """

    source_dir: Path
    cache_dir: Path
    work_dir: Path
    env: Mapping[str, str]
    buildpacks: Sequence[str] = ()
    build_image: str = DEFAULT_BUILD_IMAGE
    buildpacks_dir: Path | None = None
    limits: BuildLimits = field(default_factory=BuildLimits)
    source_version: str | None = None
    stack: str = "wharf-trixie"
    pack_slug: bool = True
    # Where the language versions the app asks for are installed; None leaves the choice to the buildpacks.
    languages: LanguageSettings | None = None


class Compiler(Protocol):
    """Runs a compile somewhere: `compile_slug` on this host, or on another node of a swarm."""

    def __call__(self, request: CompileRequest, *, on_output: OutputCallback) -> CompileResult: ...


def _chosen_buildpacks(request: CompileRequest) -> list[str]:
    env = request.env
    return list(request.buildpacks) or ([env["BUILDPACK_URL"]] if env.get("BUILDPACK_URL") else [])


def _builder_run_kwargs(
    request: CompileRequest, work: _Workspace, language_env: Mapping[str, str]
) -> dict[str, Any]:
    """The builder container: the workspace mounted where wharf-build expects it, within the limits."""
    env = request.env
    chosen, custom_mounts = _custom_buildpack_mounts(request.buildpacks)
    if not chosen and env.get("BUILDPACK_URL"):
        problem = buildpack_spec_problem(env["BUILDPACK_URL"])
        if problem is not None:
            raise BuildFailed(problem)
        chosen = [env["BUILDPACK_URL"]]
    uid, gid = _builder_user()
    buildpacks_dir = request.buildpacks_dir or default_buildpacks_dir()
    volumes = {
        str(work.app): {"bind": "/app", "mode": "rw"},
        str(request.cache_dir): {"bind": "/cache", "mode": "rw"},
        str(work.env): {"bind": "/env", "mode": "ro"},
        str(work.output): {"bind": "/output", "mode": "rw"},
        str(buildpacks_dir): {"bind": "/opt/wharf-buildpacks", "mode": "ro"},
        str(HOST_CA_BUNDLE): {"bind": CA_PATH_IN_CONTAINER, "mode": "ro"},
        **custom_mounts,
    }
    if request.languages is not None:
        volumes[str(request.languages.runtimes_dir)] = {"bind": RUNTIMES_IN_BUILDER, "mode": "ro"}
    limits = request.limits
    return {
        "image": request.build_image,
        "command": ["/opt/wharf-buildpacks/bin/wharf-build", "/app", "/cache", "/env", "/output", *chosen],
        "user": f"{uid}:{gid}",
        "working_dir": "/app",
        "environment": {
            **_container_environment(env, request.source_version, request.stack),
            **language_env,
        },
        "volumes": volumes,
        "mem_limit": limits.memory,
        "nano_cpus": int(limits.cpus * 1e9),
        "pids_limit": limits.pids,
        "network_mode": limits.network,
        "labels": {BUILDER_LABEL: "builder"},
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
    }


def _compile_result(request: CompileRequest, work: _Workspace, on_output: OutputCallback) -> CompileResult:
    """Read what the buildpacks wrote (release documents, Procfile) and pack the slug if asked."""
    names = tenant_file_names(work.output, RELEASE_DOCUMENT, limit=MAX_BUILDPACKS)
    releases = sorted(names, key=lambda name: int(name.split("-")[1].split(".")[0]))
    documents = [read_tenant_text(work.output, name, shown_as=f"/output/{name}") or "" for name in releases]
    process_types, config_vars = merge_release_documents(documents, on_warning=on_output)
    process_types.update(read_procfile(work.app))
    slug = _pack_slug(work, request.limits, on_output) if request.pack_slug else None
    return CompileResult(
        buildpacks=_detected_buildpacks(work),
        process_types=process_types,
        config_vars=config_vars,
        app_dir=work.app,
        slug_path=slug,
        slug_bytes=slug.stat().st_size if slug else None,
        reuse_inputs=_declared_inputs(work, len(releases)),
    )


@dataclass(frozen=True)
class PreparedCompile:
    """A compile ready to run: its workspace filled and the builder container's settings."""

    work: _Workspace
    run_kwargs: dict[str, Any]

    @property
    def root(self) -> Path:
        return self.work.root


def prepare_compile(request: CompileRequest, *, on_output: OutputCallback) -> PreparedCompile:
    """The workspace (the source, config vars as files, the language runtimes installed) and the
    builder container that compiles it; raises BuildFailed with a message for the user."""
    work = _Workspace(request.work_dir)
    _prepare_workspace(
        work, source_dir=request.source_dir, cache_dir=request.cache_dir, env=request.env, on_output=on_output
    )
    language_env: dict[str, str] = {}
    if request.languages is not None:
        try:
            language_env = prepare_languages(
                work.app,
                buildpacks=_chosen_buildpacks(request),
                settings=request.languages,
                build_image=request.build_image,
                on_output=on_output,
            ).env
        except LanguageUnavailable as error:
            raise BuildFailed(str(error)) from error
    return PreparedCompile(work=work, run_kwargs=_builder_run_kwargs(request, work, language_env))


def finish_compile(
    request: CompileRequest, prepared: PreparedCompile, status: int, *, on_output: OutputCallback
) -> CompileResult:
    """What the builder left in the workspace, once it exited with STATUS."""
    if status != 0:
        raise BuildFailed(
            f"The build failed (a buildpack exited with status {status}); see the output above."
        )
    return _compile_result(request, prepared.work, on_output)


def compile_slug(request: CompileRequest, *, on_output: OutputCallback) -> CompileResult:
    """Build REQUEST's source into WORK_DIR/slug.tgz on this host's engine, streaming each output line
    to ON_OUTPUT.

    Raises BuildFailed (or a subclass) with a message for the user.
    """
    prepared = prepare_compile(request, on_output=on_output)
    return finish_compile(
        request, prepared, run_here(request, prepared, on_output=on_output), on_output=on_output
    )


def run_here(request: CompileRequest, prepared: PreparedCompile, *, on_output: OutputCallback) -> int:
    """Run PREPARED's builder container on this host's engine; its exit status."""
    client = docker.from_env()
    try:
        return _run_builder(
            client, run_kwargs=prepared.run_kwargs, limits=request.limits, on_output=on_output
        )
    finally:
        client.close()
