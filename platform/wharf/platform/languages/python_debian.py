"""CPython from Debian's archive, when the app asks for a version the build image lacks.

Debian's newer suites (forky, sid) carry python3.13 and python3.14 builds: their packages are unpacked, not
installed, into RUNTIMES/python/<version>; the interpreter finds its library next to itself wherever it
lives, and the check in `install-debian-python.sh` proves it loads its modules with the stack's libraries.
A version that no such suite packages but Debian's source archive carries (python3.11 in bookworm's
`deb-src`) is built once per host from CPython's upstream tarball, in the build image
(`build-python-from-source.sh`). Which versions there are is asked with apt in a throwaway build-image
container and kept for a day.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker

from wharf.platform.languages.locks import runtime_lock
from wharf.platform.languages.python import Interpreter, write_marker
from wharf.platform.languages.semver import Version, format_version, parse_version
from wharf.platform.stack.apt_sources import host_mirrors
from wharf.platform.stack.images import HOST_CA_BUNDLE

OutputCallback = Callable[[str], None]
DEBIAN_SUITES = "sid forky"
# Suites whose source archive may carry a CPython tarball that no suite above packages.
SOURCE_SUITES = "sid forky trixie bookworm"
INDEX_MAX_AGE_SECONDS = 24 * 3600
INSTALL_SCRIPT = Path(__file__).with_name("install-debian-python.sh")
SOURCE_BUILD_SCRIPT = Path(__file__).with_name("build-python-from-source.sh")
_LINE = re.compile(r"(src )?(3\.\d+) (\d+\.\d+\.\d+)-([0-9A-Za-z.+~]+)")
_DISCOVER = (
    '{{ for suite in {suites}; do echo "deb {mirror} $suite main"; done;'
    ' for suite in {source_suites}; do echo "deb-src {mirror} $suite main"; done; }}'
    " > /etc/apt/sources.list.d/newer.list"
    " && apt-get -o Acquire::Check-Valid-Until=false update -qq >/dev/null 2>&1"
    " && for minor in 10 11 12 13 14 15 16; do apt-cache madison python3.$minor-minimal 2>/dev/null"
    " | awk -v mm=3.$minor '$NF == \"Packages\" {{print mm, $3}}';"
    " apt-cache showsrc python3.$minor 2>/dev/null"
    " | awk -v mm=3.$minor '/^Version:/ {{print \"src\", mm, $2}}';"
    " done"
)


class InstallFailed(RuntimeError):
    """Debian's packages could not be had or do not run on this stack; the message says which."""


@dataclass(frozen=True)
class DebianPython:
    version: Version
    debian_version: str
    # Built from CPython's source tarball in Debian's source archive, not unpacked from packages.
    from_source: bool = False


def parse_debian_versions(report: str) -> list[DebianPython]:
    """`3.14 3.14.10-1` (packages) and `src 3.11 3.11.2-6` (source archive) lines -> one entry per
    upstream version: packages where a suite has them, else the source; the highest Debian revision wins."""
    packaged: dict[Version, str] = {}
    sources: dict[Version, str] = {}
    for line in report.splitlines():
        match = _LINE.fullmatch(line.strip())
        version = parse_version(match[3]) if match else None
        if match and version and f"{version[0]}.{version[1]}" == match[2]:
            found = sources if match[1] else packaged
            found[version] = max(found.get(version, ""), f"{match[3]}-{match[4]}")
    releases = [DebianPython(v, d) for v, d in packaged.items()]
    releases += [DebianPython(v, d, from_source=True) for v, d in sources.items() if v not in packaged]
    return sorted(releases, key=lambda r: r.version)


def _run(
    client: Any,
    image: str,
    command: list[str],
    volumes: dict[str, dict[str, str]],
    on_line: OutputCallback | None = None,
) -> tuple[int, str]:
    container = client.containers.run(image, command, detach=True, user="0", volumes=volumes)
    lines: list[str] = []
    try:
        for chunk in container.logs(stream=True, follow=True):
            for line in chunk.decode(errors="replace").splitlines():
                lines.append(line)
                if on_line and line.startswith("       "):
                    on_line(line)
        status = int(container.wait()["StatusCode"])
    finally:
        container.remove(force=True)
    return status, "\n".join(lines)


def _apt_volumes(runtimes_dir: Path) -> dict[str, dict[str, str]]:
    """The host CA bundle, and apt's lists kept between the look-up and the install (a second
    `apt-get update` then fetches nothing new)."""
    lists = runtimes_dir / "python" / ".apt-lists"
    lists.mkdir(parents=True, exist_ok=True)
    return {
        str(HOST_CA_BUNDLE): {"bind": str(HOST_CA_BUNDLE), "mode": "ro"},
        str(lists): {"bind": "/var/lib/apt/lists", "mode": "rw"},
    }


def debian_pythons(build_image: str, runtimes_dir: Path, on_output: OutputCallback) -> list[DebianPython]:
    """The python3.X versions Debian's newer suites carry, asked at most once a day."""
    cache = runtimes_dir / "python" / "debian-releases.txt"
    if not cache.is_file() or time.time() - cache.stat().st_mtime > INDEX_MAX_AGE_SECONDS:
        on_output(
            f"-----> Looking up the Python versions Debian's {DEBIAN_SUITES.replace(' ', ' and ')} carry"
            " and the CPython sources in its source archive"
        )
        script = _DISCOVER.format(
            suites=DEBIAN_SUITES, source_suites=SOURCE_SUITES, mirror=host_mirrors().main
        )
        client = docker.from_env()
        try:
            status, report = _run(client, build_image, ["sh", "-c", script], _apt_volumes(runtimes_dir))
        finally:
            client.close()
        if status != 0 or not parse_debian_versions(report):
            return parse_debian_versions(cache.read_text()) if cache.is_file() else []
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(report)
    return parse_debian_versions(cache.read_text())


def installable_interpreters(releases: list[DebianPython]) -> list[Interpreter]:
    return [
        Interpreter(r.version, f"/runtimes/python/{format_version(r.version)}/bin/python3", from_stack=False)
        for r in releases
    ]


def install_debian_python(
    release: DebianPython, *, build_image: str, runtimes_dir: Path, on_output: OutputCallback
) -> Path:
    """Unpack (or build from source) RELEASE into RUNTIMES/python/<version> unless another build just did."""
    version = format_version(release.version)
    target = runtimes_dir / "python" / version
    with runtime_lock(runtimes_dir, "python", version):
        if (target / ".wharf-runtime.json").is_file():
            on_output(f"-----> Installing Python {version} (cached)")
            return target
        if release.from_source:
            on_output(
                f"-----> Building Python {version} from CPython's source in Debian's archive"
                " (once per host, a few minutes)"
            )
            script, suites, how = SOURCE_BUILD_SCRIPT, SOURCE_SUITES, "source"
        else:
            on_output(f"-----> Installing Python {version} from Debian's packages (once per host)")
            script, suites, how = INSTALL_SCRIPT, DEBIAN_SUITES, "debian"
        started = time.monotonic()
        with tempfile.TemporaryDirectory(dir=runtimes_dir / "python", prefix=".install-") as scratch:
            volumes = {
                **_apt_volumes(runtimes_dir),
                str(script): {"bind": "/usr/local/bin/install-python", "mode": "ro"},
                scratch: {"bind": "/out", "mode": "rw"},
            }
            major_minor = f"{release.version[0]}.{release.version[1]}"
            command = [
                "bash",
                "/usr/local/bin/install-python",
                host_mirrors().main,
                suites,
                major_minor,
                release.debian_version,
            ]
            client = docker.from_env()
            try:
                status, log = _run(client, build_image, command, volumes, on_output)
            finally:
                client.close()
            built = Path(scratch) / "python"
            if status != 0 or not (built / "bin" / "python3").exists():
                tail = "\n".join(log.splitlines()[-10:])
                raise InstallFailed(f"installing Python {version} failed:\n{tail}")
            write_marker(built, release.version, f"{how} {release.debian_version}")
            shutil.rmtree(target, ignore_errors=True)
            built.rename(target)
        on_output(f"       Installed Python {version} in {time.monotonic() - started:.1f} s")
        return target
