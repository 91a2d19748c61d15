"""A compile whose buildpacks are one shell script, for builds on test engines that have no stack
images: any image with /bin/sh can be its build image."""

from __future__ import annotations

from pathlib import Path

from tests.utils.busybox_dynos import TEST_IMAGE
from wharf.platform.builds.compile import BuildLimits, CompileRequest

# A build script in place of the buildpacks: it counts the builds its node's cache has seen, reads a
# config var from its file and leaves a file in the built app.
BUILD_SCRIPT = """#!/bin/sh
set -e
seen=$(cat "$2/builds" 2>/dev/null || echo 0)
echo "-----> builds this cache saw before: $seen"
echo $((seen + 1)) > "$2/builds"
echo "greeting: $(cat "$3/GREETING")"
echo compiled > "$1/compiled"
printf 'Scripted\\n' > "$4/buildpacks"
"""


def scripted_compile(root: Path, attempt: int) -> CompileRequest:
    """A compile of a Procfile app by BUILD_SCRIPT under ROOT; ATTEMPT names its workspace."""
    buildpacks = root / "buildpacks"
    (buildpacks / "bin").mkdir(parents=True, exist_ok=True)
    script = buildpacks / "bin" / "wharf-build"
    script.write_text(BUILD_SCRIPT)
    script.chmod(0o755)
    source = root / "source"
    source.mkdir(exist_ok=True)
    (source / "Procfile").write_text("# the web process\nweb: ./serve --port $PORT\n")
    return CompileRequest(
        source_dir=source,
        cache_dir=root / "manager-cache",
        work_dir=root / f"work-{attempt}",
        env={"GREETING": "hello from the manager"},
        build_image=TEST_IMAGE,
        buildpacks_dir=buildpacks,
        limits=BuildLimits(memory="64m", timeout_seconds=120),
    )
