"""Each fixture app builds cold, then from cache, in the build image and answers HTTP from the run image."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.utils.buildpack_builds import FIXTURES, AppBuilder, Build, running_slug
from wharf.platform.builds.compile import BuildFailed, BuildLimits, BuildTimedOut, SlugTooLarge

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Scenario:
    fixture: str
    buildpacks: list[str]
    answer: str
    cold_marker: str
    warm_marker: str
    reinstall_markers: tuple[str, ...]


SCENARIOS = [
    Scenario("python_requirements", ["Python"], "Hello from a Flask app built by Wharf",
             "Installed 9 packages", "Restoring the cached virtualenv", ("Installed", " + ")),
    Scenario("python_uv_lock", ["Python"], "Hello from a uv.lock app &lt;escaped&gt;",
             "+ markupsafe", "Restoring the cached virtualenv", ("Installed", " + ")),
    Scenario("nodejs_npm", ["Node.js"], "Hello from a Node.js app (built at build time, 1m)",
             "added 2 packages", "reusing the cached node_modules", ("added", "Installing dependencies")),
    Scenario("static_site", ["Static"], "Hello from a static site",
             "Configuring nginx", "Configuring nginx", ()),
    Scenario("procfile_only", ["Procfile"], "Hello from a Procfile-only app",
             "Procfile declares types -> web", "Procfile declares types -> web", ()),
    Scenario("multi_buildpacks", ["Node.js", "Python"],
             "Hello from a multi-buildpack app: asset built by the nodejs buildpack",
             "+ markupsafe==3.0.2", "Restoring the cached virtualenv", ("Installed", " + ")),
]


def _succeeded(build: Build) -> Build:
    assert build.result is not None, f"build failed: {build.error}\n{build.output}"
    return build


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.fixture for s in SCENARIOS])
def test_app_builds_cold_then_from_cache_and_answers_http(
    builder: AppBuilder, slug_dir: Path, scenario: Scenario
) -> None:
    cold = _succeeded(builder.compile(scenario.fixture))
    assert cold.result is not None
    assert cold.result.buildpacks == scenario.buildpacks
    assert scenario.cold_marker in cold.output

    warm = _succeeded(builder.compile(scenario.fixture))
    assert warm.result is not None
    assert scenario.warm_marker in warm.output
    for marker in scenario.reinstall_markers:
        assert marker not in warm.output, f"the cached rebuild installed again:\n{warm.output}"

    web = warm.result.process_types["web"]
    with running_slug(warm.result.slug_path, web, slug_dir) as url:
        answer = httpx.get(url + "/", timeout=10)
    assert answer.status_code == 200
    assert scenario.answer in answer.text


def test_uv_lock_app_leaves_dev_dependencies_out(builder: AppBuilder, slug_dir: Path) -> None:
    build = _succeeded(builder.compile("python_uv_lock"))
    assert build.result is not None
    assert "pytest-timeout" not in build.output
    assert "pytest" not in build.output


def test_static_site_hides_build_files_and_slugignored_paths(builder: AppBuilder, slug_dir: Path) -> None:
    build = _succeeded(builder.compile("static_site"))
    assert build.result is not None
    assert "Removed 2 paths listed in .slugignore" in build.output
    with running_slug(build.result.slug_path, build.result.process_types["web"], slug_dir) as url:
        assert httpx.get(url + "/about").text.strip().endswith("</html>")
        assert httpx.get(url + "/drafts/secret.html").status_code == 404
        assert httpx.get(url + "/.profile.d/").status_code == 404
        assert httpx.get(url + "/.wharf/static/nginx.conf").status_code == 404
        assert httpx.get(url + "/missing").status_code == 404


def test_third_party_buildpack_given_by_path(builder: AppBuilder, slug_dir: Path) -> None:
    # An app's BUILDPACK_URL may not name a host path (tests/security); Wharf itself still may.
    buildpack = str(FIXTURES / "third_party_buildpack")
    build = _succeeded(builder.compile(
        "third_party_app", buildpacks=[buildpack], env={"GREETING_SUFFIX": "and ENV_DIR"}
    ))
    assert build.result is not None
    assert build.result.buildpacks == ["Greeting"]
    assert "GREETING_SUFFIX from ENV_DIR: and ENV_DIR" in build.output
    assert build.result.config_vars == {"GREETING_STYLE": "plain"}
    with running_slug(build.result.slug_path, build.result.process_types["web"], slug_dir) as url:
        assert httpx.get(url).text == "Hello from a third-party buildpack\nand ENV_DIR"


def test_no_language_fails_listing_what_wharf_builds(builder: AppBuilder) -> None:
    build = builder.compile("no_language")
    assert isinstance(build.error, BuildFailed)
    assert "Wharf found no language it knows" in build.output
    for language in ("Python", "Node.js", "Static", "Procfile", ".buildpacks"):
        assert language in build.output


def test_dependency_error_shows_the_installers_message(builder: AppBuilder) -> None:
    build = builder.compile("python_failing_deps")
    assert isinstance(build.error, BuildFailed)
    assert "wharf-package-that-does-not-exist was not found in the package registry" in build.output
    assert "Installing the Python dependencies failed" in build.output


def test_unavailable_python_version_names_the_versions_on_offer(builder: AppBuilder) -> None:
    build = builder.compile("python_unavailable_version")
    assert isinstance(build.error, BuildFailed)
    assert "Python 3.9 is not available on this stack" in build.output
    assert "Versions on offer: 3.13" in build.output


def test_hung_buildpack_is_killed_at_the_time_limit(builder: AppBuilder) -> None:
    build = builder.compile(
        "procfile_only",
        buildpacks=[str(FIXTURES / "hung_buildpack")],
        limits=BuildLimits(timeout_seconds=5),
    )
    assert isinstance(build.error, BuildTimedOut)
    assert "Waiting forever" in build.output


def test_slug_over_the_limit_is_refused(builder: AppBuilder) -> None:
    build = builder.compile("procfile_only", limits=BuildLimits(max_slug_bytes=100))
    assert isinstance(build.error, SlugTooLarge)
    assert "over the 0 MB limit" in str(build.error)


def test_django_collectstatic_runs_at_build_time_and_its_failure_fails_the_build(builder: AppBuilder) -> None:
    built = _succeeded(builder.compile("python_django"))
    broken = builder.compile("python_django", env={"BROKEN_STATIC": "1", "DISABLE_COLLECTSTATIC": "0"})
    skipped = _succeeded(
        builder.compile("python_django", env={"BROKEN_STATIC": "1", "DISABLE_COLLECTSTATIC": "1"})
    )

    assert built.result is not None
    assert "Running: manage.py collectstatic --noinput" in built.output
    assert (built.result.app_dir / "staticfiles" / "site.css").read_text() == "body { color: teal; }\n"
    assert isinstance(broken.error, BuildFailed)
    assert "STATIC_ROOT" in broken.output and "Django's collectstatic failed" in broken.output
    assert "Skipping Django collectstatic (DISABLE_COLLECTSTATIC is set)" in skipped.output
