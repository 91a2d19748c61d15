"""Buildpack build vs plain `docker build`, same Flask app, same Debian 13 base, same run.

Usage: .venv/bin/python bench/build_vs_docker.py

Both sides end with a runnable image: docker builds a well-layered Dockerfile (requirements first, pip in a
venv); Wharf runs the build job's image step (``build_slug_image``): the python buildpack in a builder
container, then the buildpack output and the source layered on the run image, or, when the dependency
files are unchanged, the new source layered on the last build's dependencies. Prints each time and the
ratio Wharf/docker for a cold build and for a rebuild after a source change.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from wharf.platform.builds.release_image import SlugBuildSettings, build_slug_image
from wharf.platform.builds.reuse import ReuseStore
from wharf.platform.stack import DEFAULT_RUN_IMAGE, ensure_stack_images
from wharf.platform.stack.images import DEFAULT_BUILD_IMAGE, HOST_CA_BUNDLE

APP = Path(__file__).resolve().parents[1] / "tests/buildpacks/fixtures/python_requirements"
DOCKERFILE = f"""\
FROM {DEFAULT_RUN_IMAGE}
COPY --chown=dyno:dyno requirements.txt host-ca.crt /tmp/deps/
RUN python3 -m venv /app/.venv && /app/.venv/bin/pip install --disable-pip-version-check \\
    --cert /tmp/deps/host-ca.crt -r /tmp/deps/requirements.txt
COPY --chown=dyno:dyno . /app
"""


def docker_build(context: Path, tag: str, *, no_cache: bool) -> float:
    started = time.monotonic()
    argv = ["docker", "build", "--quiet", "--tag", tag, *(["--no-cache"] if no_cache else []), str(context)]
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def wharf_build(app: Path, root: Path, tag: str) -> tuple[float, bool]:
    """The build job's image step on a fresh copy of the source, as the job unpacks each pushed commit."""
    started = time.monotonic()
    source = root / f"source-{tag}"
    shutil.copytree(app, source)
    image = build_slug_image(
        settings=SlugBuildSettings(
            app_name="wharf-bench",
            repository="wharf-bench/wharf",
            run_image=DEFAULT_RUN_IMAGE,
            build_image=DEFAULT_BUILD_IMAGE,
            cache_dir=root / "cache",
            reuse=ReuseStore(root / "reuse"),
        ),
        source=source,
        work_dir=root / f"work-{tag}",
        config={},
        tag=tag,
        labels={},
        on_output=lambda _line: None,
    )
    return time.monotonic() - started, image.reused


def change_source(app: Path, round_number: int) -> None:
    with (app / "app.py").open("a") as handle:
        handle.write(f"\n# source change {round_number}\n")


def main() -> None:
    ensure_stack_images()
    with tempfile.TemporaryDirectory(prefix="wharf-bench-") as tmp:
        root = Path(tmp)
        docker_app, wharf_app = root / "docker-app", root / "wharf-app"
        shutil.copytree(APP, docker_app)
        shutil.copytree(APP, wharf_app)
        (docker_app / "Dockerfile").write_text(DOCKERFILE)
        (docker_app / ".dockerignore").write_text("Dockerfile\n")
        shutil.copyfile(HOST_CA_BUNDLE, docker_app / "host-ca.crt")

        docker_cold = docker_build(docker_app, "wharf-bench/docker:latest", no_cache=True)
        wharf_cold, _ = wharf_build(wharf_app, root, "v1")
        change_source(docker_app, 1)
        change_source(wharf_app, 1)
        docker_warm = docker_build(docker_app, "wharf-bench/docker:latest", no_cache=False)
        wharf_warm, reused = wharf_build(wharf_app, root, "v2")
    bench_images = ["wharf-bench/docker:latest", "wharf-bench/wharf:v1", "wharf-bench/wharf:v2"]
    bench_images.append("wharf-bench/wharf:dependencies")
    subprocess.run(["docker", "rmi", *bench_images], check=False, capture_output=True)
    print(
        f"cold build:   docker {docker_cold:6.2f} s   wharf {wharf_cold:6.2f} s   "
        f"ratio {wharf_cold / docker_cold:.2f}x (goal <= 1.0x)"
    )
    print(
        f"source-only:  docker {docker_warm:6.2f} s   wharf {wharf_warm:6.2f} s   "
        f"ratio {wharf_warm / docker_warm:.2f}x (goal <= 1.0x and under 5 s)"
        f"{'' if reused else '  (the dependencies were not reused)'}"
    )


if __name__ == "__main__":
    main()
