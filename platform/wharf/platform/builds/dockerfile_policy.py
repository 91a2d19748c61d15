"""What an app's Dockerfile may build from and run as, checked before and after `docker build`.

Every tenant's release images live in the same Docker Engine, so a Dockerfile naming another app's image
(`FROM wharf/<victim>:v2`, `COPY --from=wharf/<victim>:v2 /app /stolen`) would print that tenant's
source into its own build. Bases are therefore the stack images and the images this same app built;
build arguments are not expanded in image references (nothing can be smuggled through an ARG). A build
never runs as root: `USER` naming uid 0 (`0`, `00`, `root`, or any name that resolves to uid 0 in the
stage's base image) is refused before the build, and the built image's user is resolved again, by
number, against the image's own /etc/passwd.
"""

from __future__ import annotations

import io
import re
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, field

import docker
import docker.errors

PASSWD_MAX_BYTES = 1024 * 1024
DOCKERFILE_MAX_BYTES = 1024 * 1024
ESCAPE_DIRECTIVE = re.compile(r"#\s*escape\s*=\s*(\S)\s*", re.IGNORECASE)
FLAG = re.compile(r"--([a-z-]+)(?:=(\S*))?")


class DockerfileRefused(Exception):
    """The Dockerfile asks for something Wharf does not allow; the message says what to do instead."""


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str
    line: int


@dataclass
class BasePolicy:
    """The images one app's Dockerfile may build from: the stack images and the app's own."""

    stack_images: tuple[str, ...]
    app_repository: str
    stages: dict[str, str] = field(default_factory=dict)

    def allowed_image(self, reference: str) -> bool:
        if reference in self.stack_images or reference == "scratch":
            return True
        repository, _, tag = reference.partition(":")
        return repository == self.app_repository and re.fullmatch(r"[A-Za-z0-9_.-]{1,128}", tag) is not None

    def explain(self, reference: str, line: int, where: str) -> str:
        return (
            f"Dockerfile line {line}: {where} {reference} is not allowed. Build from a stack image "
            f"({', '.join(self.stack_images)}) or from an image of this app ({self.app_repository}:vN)."
        )


def logical_lines(text: str) -> list[Instruction]:
    """The Dockerfile's instructions, continuation lines joined, comments and blank lines skipped."""
    lines = text.splitlines()
    escape = "\\"
    for raw in lines[:8]:
        directive = ESCAPE_DIRECTIVE.fullmatch(raw.strip())
        if directive:
            escape = directive.group(1)
        elif not raw.strip().startswith("#"):
            break
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(lines, start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue
        if not pending:
            start = number
        if stripped.endswith(escape):
            pending.append(stripped[: -len(escape)])
            continue
        pending.append(stripped)
        keyword, _, arguments = " ".join(pending).strip().partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip(), start))
        pending = []
    if pending:
        keyword, _, arguments = " ".join(pending).strip().partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip(), start))
    return instructions


def _flags(arguments: str) -> tuple[dict[str, list[str]], list[str]]:
    """Leading `--name=value` flags (repeatable) and the words after them."""
    words = arguments.split()
    flags: dict[str, list[str]] = {}
    while words and words[0].startswith("--"):
        match = FLAG.fullmatch(words.pop(0))
        if match:
            flags.setdefault(match.group(1), []).append(match.group(2) or "")
    return flags, words


def _check_reference(policy: BasePolicy, reference: str, line: int, where: str) -> str:
    if "$" in reference:
        raise DockerfileRefused(
            f"Dockerfile line {line}: {where} {reference} uses a build argument; "
            "name the image itself (a stack image or one of this app's)."
        )
    stage = None if where == "FROM" and reference.isdigit() else policy.stages.get(reference.lower())
    if stage is not None:
        return stage
    if not policy.allowed_image(reference):
        raise DockerfileRefused(policy.explain(reference, line, where))
    return reference


def _check_copy_sources(policy: BasePolicy, instruction: Instruction) -> None:
    flags, _words = _flags(instruction.arguments)
    for source in flags.get("from", []):
        _check_reference(policy, source, instruction.line, "COPY --from")
    for mount in flags.get("mount", []):
        for option in mount.split(","):
            key, _, value = option.partition("=")
            if key.strip() == "from":
                _check_reference(policy, value.strip(), instruction.line, "RUN --mount from")


def root_named(user: str) -> bool:
    """Whether a USER value's user part is uid 0 by number or the name root (before any lookup)."""
    name = user.split(":", 1)[0].strip()
    return name == "" or name == "root" or (name.isdigit() and int(name) == 0)


@dataclass(frozen=True)
class CheckedDockerfile:
    """What the build needs from the check: each USER with the base image of its stage."""

    users: list[tuple[str, str, int]]  # (user, base image, line)


def check_dockerfile(text: str, policy: BasePolicy) -> CheckedDockerfile:
    """Refuse disallowed bases, `COPY --from` images and root users; the stages' users for later checks."""
    users: list[tuple[str, str, int]] = []
    stage_bases: list[str] = []
    current_base = ""
    for instruction in _expanded(logical_lines(text)):
        if instruction.keyword == "FROM":
            _from_flags, words = _flags(instruction.arguments)
            if not words:
                raise DockerfileRefused(f"Dockerfile line {instruction.line}: FROM names no image.")
            base = _check_reference(policy, words[0], instruction.line, "FROM")
            current_base = base
            stage_bases.append(base)
            policy.stages[str(len(stage_bases) - 1)] = base
            if len(words) >= 3 and words[1].lower() == "as":
                policy.stages[words[2].lower()] = base
        elif instruction.keyword in ("COPY", "ADD", "RUN"):
            _check_copy_sources(policy, instruction)
        elif instruction.keyword == "USER":
            user = instruction.arguments.strip()
            if "$" in user:
                raise DockerfileRefused(
                    f"Dockerfile line {instruction.line}: USER {user} uses a variable; name the user itself."
                )
            if root_named(user):
                raise DockerfileRefused(_root_message(instruction.line, user))
            users.append((user, current_base, instruction.line))
    return CheckedDockerfile(users=users)


def _expanded(instructions: Iterable[Instruction]) -> Iterable[Instruction]:
    """Instructions with ONBUILD triggers checked as the instructions they will become."""
    for instruction in instructions:
        if instruction.keyword == "ONBUILD":
            keyword, _, arguments = instruction.arguments.partition(" ")
            yield Instruction(keyword.upper(), arguments.strip(), instruction.line)
        else:
            yield instruction


def _root_message(line: int | None, user: str) -> str:
    where = f"Dockerfile line {line}: " if line is not None else ""
    return (
        f"{where}USER {user} runs as root, which Wharf does not allow. "
        "Run as the stack's `dyno` user (or any other non-root user)."
    )


def read_image_file(client: docker.DockerClient, image: str, path: str, max_bytes: int) -> bytes | None:
    """A regular file of IMAGE, copied out through the Docker API (never the host's), within MAX_BYTES."""
    container = client.containers.create(image, command=["/nonexistent"], network_disabled=True)
    try:
        stream, info = container.get_archive(path)
        if int(info.get("size", 0)) > max_bytes:
            return None
        data = bytearray()
        for chunk in stream:
            data += chunk
            if len(data) > max_bytes + 64 * 1024:
                return None
        with tarfile.open(fileobj=io.BytesIO(bytes(data))) as archive:
            member = archive.next()
            if member is None or not member.isreg() or member.size > max_bytes:
                return None
            handle = archive.extractfile(member)
            return handle.read(max_bytes + 1) if handle is not None else None
    except docker.errors.NotFound:
        return None
    finally:
        container.remove(force=True)


def resolve_uid(user: str, passwd: str | None) -> int | None:
    """The uid USER (a `name[:group]` or `uid[:gid]`) means under PASSWD; None when it names nobody."""
    name = user.split(":", 1)[0].strip()
    if name.isdigit():
        return int(name)
    for line in (passwd or "").splitlines():
        fields = line.split(":")
        if len(fields) >= 3 and fields[0] == name and fields[2].strip().isdigit():
            return int(fields[2])
    return None


def image_passwd(client: docker.DockerClient, image: str) -> str | None:
    if image == "scratch":
        return None
    raw = read_image_file(client, image, "/etc/passwd", PASSWD_MAX_BYTES)
    return raw.decode("utf-8", errors="replace") if raw is not None else None


def check_stage_users(client: docker.DockerClient, checked: CheckedDockerfile) -> None:
    """Refuse a USER that names uid 0 in its stage's base image (`USER toor` where toor is uid 0)."""
    for user, base, line in checked.users:
        if base.isdigit() or not base:
            continue
        if resolve_uid(user, image_passwd(client, base)) == 0:
            raise DockerfileRefused(_root_message(line, user))


def check_image_user(client: docker.DockerClient, image: str) -> None:
    """Refuse a built image whose user is root once resolved by number against its own /etc/passwd."""
    user = str((client.images.get(image).attrs.get("Config") or {}).get("User") or "")
    if root_named(user):
        raise DockerfileRefused(_root_message(None, user or "(none: root)"))
    if resolve_uid(user, image_passwd(client, image)) == 0:
        raise DockerfileRefused(_root_message(None, user))
