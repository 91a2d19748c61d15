"""`git push wharf main` with the real git client: authentication, streaming build output, refusals."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import docker
import httpx
import pytest

from tests.utils.e2e import Developer, Wharf, new_developer

pytestmark = pytest.mark.e2e


def push_with_timings(dev: Developer, repo: Path, *args: str) -> tuple[int, list[tuple[float, str]]]:
    """Run git push, recording when each line of its output arrived."""
    process = subprocess.Popen(
        ["git", "push", "--progress", "wharf", *args],
        cwd=repo,
        env=dev.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert process.stdout is not None
    started = time.monotonic()
    lines: list[tuple[float, str]] = []
    buffer = b""
    while chunk := process.stdout.read1(4096):  # type: ignore[attr-defined]
        buffer += chunk
        *complete, buffer = buffer.replace(b"\r", b"\n").split(b"\n")
        now = time.monotonic() - started
        lines.extend((now, line.decode(errors="replace")) for line in complete if line.strip())
    process.wait(timeout=1200)
    if buffer.strip():
        lines.append((time.monotonic() - started, buffer.decode(errors="replace")))
    return process.returncode, lines


def remote_lines(lines: list[tuple[float, str]]) -> list[tuple[float, str]]:
    return [(t, line) for t, line in lines if line.startswith("remote:")]


def test_push_builds_and_streams_output_while_it_runs(developer: Developer, tmp_path: Path) -> None:
    app = developer.create_app()
    repo = developer.app_repo("python_requirements", app, tmp_path)
    code, lines = push_with_timings(developer, repo, "main")
    text = "\n".join(line for _, line in lines)
    assert code == 0, text
    remote = remote_lines(lines)
    assert any("-----> Building" in line for _, line in remote), text
    assert any("Python app detected" in line or "python" in line.lower() for _, line in remote), text
    assert any("-----> Released v2" in line for _, line in remote), text
    assert any(f"http://{app}.localhost" in line for _, line in remote), text
    # Lines arrived over the course of the build, not all at once at the end.
    first, last = remote[0][0], remote[-1][0]
    assert last - first > 1.0, remote
    arrivals = {round(t, 1) for t, _ in remote}
    assert len(arrivals) >= 5, remote

    builds = developer.api.get(f"/api/apps/{app}/builds").json()
    assert builds[0]["status"] == "succeeded"
    assert builds[0]["release"] == 2
    assert builds[0]["buildpacks"] == ["Python"]
    output = developer.api.get(f"/api/apps/{app}/builds/{builds[0]['id']}").json()["output"]
    assert "Released" not in output and "-----> " in output
    releases = developer.api.get(f"/api/apps/{app}/releases").json()
    assert releases[0]["version"] == 2 and releases[0]["description"].startswith("Deploy ")
    _assert_image_answers(f"wharf/{app}:v2", "Hello from a Flask app")


def _assert_image_answers(image: str, expected: str) -> None:
    client = docker.from_env()
    image_obj = client.images.get(image)
    assert image_obj.labels["io.wharf.release"]
    container = client.containers.run(
        image,
        ["wharf-launch", "gunicorn app:app --bind 0.0.0.0:$PORT"],
        environment={"PORT": "5000"},
        detach=True,
        remove=False,
    )
    try:
        container.reload()
        address = container.attrs["NetworkSettings"]["IPAddress"]
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.get(f"http://{address}:5000/", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        assert expected in answer.text
    finally:
        container.remove(force=True)
        client.close()


def test_failed_build_rejects_the_push_and_keeps_the_release(developer: Developer, tmp_path: Path) -> None:
    app = developer.create_app()
    good = developer.app_repo("procfile_only", app, tmp_path)
    assert developer.git("push", "wharf", "main", cwd=good, check=False).returncode == 0
    before = developer.git("ls-remote", "wharf", "main", cwd=good).stdout.split()[0]

    broken = developer.app_repo("python_failing_deps", app, tmp_path)
    push = developer.git("push", "--force", "wharf", "main", cwd=broken, check=False)
    assert push.returncode != 0
    assert "remote:" in push.stderr
    assert "Push rejected" in push.stderr
    assert "running release is untouched" in push.stderr
    assert developer.git("ls-remote", "wharf", "main", cwd=good).stdout.split()[0] == before
    releases = developer.api.get(f"/api/apps/{app}/releases").json()
    assert releases[0]["version"] == 2
    builds = developer.api.get(f"/api/apps/{app}/builds").json()
    assert [b["status"] for b in builds[:2]] == ["failed", "succeeded"]
    docker.from_env().images.get(f"wharf/{app}:v2")
    # The release that was running still answers, through the router.
    answer = developer.wharf.app_get(app)
    deadline = time.monotonic() + 30
    while answer.status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.3)
        answer = developer.wharf.app_get(app)
    assert "Hello from a Procfile-only app" in answer.text


def test_no_language_detected_lists_what_wharf_builds(developer: Developer, tmp_path: Path) -> None:
    app = developer.create_app()
    repo = developer.app_repo("no_language", app, tmp_path)
    push = developer.git("push", "wharf", "main", cwd=repo, check=False)
    assert push.returncode != 0
    assert "remote:" in push.stderr
    for language in ("Python", "Node.js", "static"):
        assert language.lower() in push.stderr.lower(), push.stderr


def test_other_branches_are_refused_with_the_command_to_use(developer: Developer, tmp_path: Path) -> None:
    app = developer.create_app()
    repo = developer.app_repo("procfile_only", app, tmp_path)
    developer.git("checkout", "-q", "-b", "feature", cwd=repo)
    push = developer.git("push", "wharf", "feature", cwd=repo, check=False)
    assert push.returncode != 0
    assert "git push wharf feature:main" in push.stderr
    assert developer.api.get(f"/api/apps/{app}/builds").json() == []


def test_wrong_token_is_refused(developer: Developer, tmp_path: Path) -> None:
    app = developer.create_app()
    repo = developer.app_repo("procfile_only", app, tmp_path)
    netrc = developer.home / ".netrc"
    netrc.write_text(netrc.read_text().replace(developer.token, "wharf_not-a-real-token"))
    push = developer.git("push", "wharf", "main", cwd=repo, check=False)
    assert push.returncode != 0
    # git reports the refused credentials, or asks for others (prompts are off here).
    assert "Authentication failed" in push.stderr or "could not read Username" in push.stderr, push.stderr
    assert developer.api.get(f"/api/apps/{app}/builds").json() == []


def test_another_users_app_is_not_found(wharf: Wharf, developer: Developer, tmp_path: Path) -> None:
    app = developer.create_app()
    other = new_developer(wharf, tmp_path)
    repo = other.app_repo("procfile_only", app, tmp_path)
    push = other.git("push", "wharf", "main", cwd=repo, check=False)
    assert push.returncode != 0
    assert "not found" in push.stderr
    clone = other.git(
        "clone", f"{wharf.url}/git/{app}.git", str(tmp_path / "stolen"), cwd=tmp_path, check=False
    )
    assert clone.returncode != 0
    assert developer.api.get(f"/api/apps/{app}/builds").json() == []


def test_owner_can_clone_and_force_push(developer: Developer, tmp_path: Path) -> None:
    app = developer.create_app()
    repo = developer.app_repo("procfile_only", app, tmp_path)
    assert developer.git("push", "wharf", "main", cwd=repo, check=False).returncode == 0
    clone = developer.git(
        "clone", "-q", f"{developer.wharf.url}/git/{app}.git", str(tmp_path / "clone"), cwd=tmp_path
    )
    assert clone.returncode == 0
    assert (tmp_path / "clone" / "Procfile").exists()
    developer.git(
        "-c",
        "user.email=dev@example.com",
        "-c",
        "user.name=Dev",
        "commit",
        "-q",
        "--amend",
        "-m",
        "rewritten",
        cwd=repo,
    )
    forced = developer.git("push", "--force", "wharf", "main", cwd=repo, check=False)
    assert forced.returncode == 0, forced.stderr
    assert "Released v3" in forced.stderr


def test_two_pushes_to_one_app_are_serialized(developer: Developer, tmp_path: Path) -> None:
    app = developer.create_app()
    first = developer.app_repo("procfile_only", app, tmp_path)
    second = tmp_path / "second"
    subprocess.run(["cp", "-r", str(first), str(second)], check=True)
    developer.git(
        "-c",
        "user.email=dev@example.com",
        "-c",
        "user.name=Dev",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "two",
        cwd=second,
    )
    results: dict[str, subprocess.CompletedProcess[str]] = {}

    def push(name: str, repo: Path) -> None:
        results[name] = developer.git("push", "--force", "wharf", "main", cwd=repo, check=False)

    threads = [threading.Thread(target=push, args=("a", first))]
    threads[0].start()
    time.sleep(1.0)
    threads.append(threading.Thread(target=push, args=("b", second)))
    threads[1].start()
    for thread in threads:
        thread.join(timeout=600)
    assert results["a"].returncode == 0, results["a"].stderr
    assert results["b"].returncode == 0, results["b"].stderr
    assert "this one waits for it" in results["b"].stderr
    versions = sorted(r["version"] for r in developer.api.get(f"/api/apps/{app}/releases").json())
    assert versions == [1, 2, 3]


def test_a_member_collaborators_push_deploys_and_a_viewers_is_refused(
    wharf: Wharf, developer: Developer, tmp_path: Path
) -> None:
    app = developer.create_app()
    (tmp_path / "member").mkdir()
    (tmp_path / "viewer").mkdir()
    member = new_developer(wharf, tmp_path / "member")
    viewer = new_developer(wharf, tmp_path / "viewer")
    for who, role in ((member, "member"), (viewer, "viewer")):
        added = developer.api.post(f"/api/apps/{app}/collaborators", json={"email": who.email, "role": role})
        assert added.status_code == 201, added.text

    viewer_repo = viewer.app_repo("procfile_only", app, tmp_path / "viewer")
    refused = viewer.git("push", "wharf", "main", cwd=viewer_repo, check=False)
    assert refused.returncode != 0
    assert "403" in refused.stderr, refused.stderr
    assert developer.api.get(f"/api/apps/{app}/builds").json() == []

    member_repo = member.app_repo("procfile_only", app, tmp_path / "member")
    pushed = member.git("push", "wharf", "main", cwd=member_repo, check=False)
    assert pushed.returncode == 0, pushed.stderr
    assert "Released v2" in pushed.stderr
    releases = developer.api.get(f"/api/apps/{app}/releases").json()
    assert releases[0]["created_by"] == member.email

    # Viewers read: the code they may fetch, not push.
    clone = viewer.git("clone", "-q", f"{wharf.url}/git/{app}.git", str(tmp_path / "clone"), cwd=tmp_path)
    assert (tmp_path / "clone" / "Procfile").exists()
    assert clone.returncode == 0
