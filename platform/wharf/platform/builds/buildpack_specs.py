"""What an app may name as its buildpack (BUILDPACK_URL, `wharf buildpacks:set`): a built-in or a URL.

A path is never accepted: a host folder named there would be mounted into the builder, handing the app
whatever the host keeps in it. Third-party buildpacks come from git or tarball URLs, as on Heroku.
"""

from __future__ import annotations

import re

BUILTIN_BUILDPACKS = ("python", "nodejs", "static", "procfile", "multi")
BUILTIN_NAME = re.compile(r"(?:heroku/|heroku-buildpack-)?(?P<name>[a-z0-9-]+)")
BUILDPACK_URL = re.compile(
    r"(?:https?|git|ssh)://[A-Za-z0-9._~:@%+-]+(?:/[A-Za-z0-9._~%+@:=,-]*)*(?:#[A-Za-z0-9._/+-]+)?"
    r"|git@[A-Za-z0-9.-]+:[A-Za-z0-9._~/+-]+(?:#[A-Za-z0-9._/+-]+)?"
)
MAX_SPEC_LENGTH = 2000


def buildpack_spec_problem(spec: str) -> str | None:
    """Why SPEC cannot be an app's buildpack, said so the user knows what to use instead; None when fine."""
    builtin = BUILTIN_NAME.fullmatch(spec)
    if builtin is not None and builtin.group("name") in BUILTIN_BUILDPACKS:
        return None
    if len(spec) <= MAX_SPEC_LENGTH and BUILDPACK_URL.fullmatch(spec):
        return None
    shown = spec[:100].encode("unicode_escape").decode("ascii")
    return (
        f"BUILDPACK_URL '{shown}' is not a buildpack Wharf can use: name a built-in buildpack "
        f"({', '.join(BUILTIN_BUILDPACKS)}) or an https, git or ssh URL "
        "(https://host/repo.git#ref, or a .tgz URL). Paths on the server are not accepted."
    )
