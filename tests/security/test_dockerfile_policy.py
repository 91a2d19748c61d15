"""The Dockerfile check on its own: every way of naming a base image or a root user that it must catch."""

from __future__ import annotations

import pytest

from wharf.platform.builds.dockerfile_policy import (
    BasePolicy,
    DockerfileRefused,
    check_dockerfile,
    resolve_uid,
)


def policy() -> BasePolicy:
    return BasePolicy(
        stack_images=("wharf/stack-run:trixie", "wharf/stack-build:trixie"), app_repository="wharf/me"
    )


@pytest.mark.parametrize(
    "dockerfile",
    [
        "FROM wharf/victim:v2\n",
        "from wharf/victim:v2\n",
        "FROM --platform=linux/amd64 wharf/victim:v2\n",
        "FROM \\\n  wharf/victim:v2\n",
        "# escape=`\nFROM `\n  wharf/victim:v2\n",
        "ARG B=wharf/victim:v2\nFROM ${B}\n",
        "FROM wharf/stack-run:trixie\nCOPY --from=wharf/victim:v2 /app /x\n",
        "FROM wharf/stack-run:trixie\nCOPY --chown=1000 --from=wharf/victim:v2 /app /x\n",
        "FROM wharf/stack-run:trixie\nRUN --mount=type=bind,from=wharf/victim:v2,target=/x cat /x/app.py\n",
        "FROM wharf/stack-run:trixie\nONBUILD COPY --from=wharf/victim:v2 /app /x\n",
        "FROM wharf/me-too:v1\n",
        "FROM docker.io/wharf/me:v1\n",
        "FROM wharf/me@sha256:0123\n",
        "FROM postgres:16\n",
        "FROM wharf/stack-run:trixie AS build\nFROM wharf/stack-run:trixie\nCOPY --from=other /x /y\n",
    ],
)
def test_bases_other_than_the_stack_and_the_apps_own_are_refused(dockerfile: str) -> None:
    with pytest.raises(DockerfileRefused):
        check_dockerfile(dockerfile, policy())


@pytest.mark.parametrize(
    "dockerfile",
    [
        "FROM wharf/stack-run:trixie\n",
        "FROM wharf/stack-build:trixie AS build\nFROM wharf/stack-run:trixie\nCOPY --from=build /a /a\n",
        "FROM wharf/stack-build:trixie\nFROM wharf/stack-run:trixie\nCOPY --from=0 /a /a\n",
        "FROM wharf/me:v3\nUSER dyno\n",
        "FROM scratch\nUSER 1000\n",
    ],
)
def test_stack_images_own_images_and_earlier_stages_are_allowed(dockerfile: str) -> None:
    check_dockerfile(dockerfile, policy())


@pytest.mark.parametrize("user", ["0", "00", "000:1000", "root", "root:root", "root:1000", "", "$U"])
def test_root_users_are_refused_by_number_and_name(user: str) -> None:
    with pytest.raises(DockerfileRefused):
        check_dockerfile(f"FROM wharf/stack-run:trixie\nUSER {user}\n", policy())


def test_names_resolve_to_uids_through_the_images_passwd() -> None:
    passwd = "root:x:0:0::/root:/bin/sh\ntoor:x:0:0::/:/bin/sh\ndyno:x:1000:1000::/app:/bin/sh\n"
    assert resolve_uid("toor", passwd) == 0
    assert resolve_uid("toor:dyno", passwd) == 0
    assert resolve_uid("dyno", passwd) == 1000
    assert resolve_uid("0000", None) == 0
    assert resolve_uid("nobody-here", passwd) is None
