"""SSH keys of an account: add (validated, fingerprinted, one account per key), list, remove."""

from __future__ import annotations

import re

import asyncssh
from sqlalchemy import select
from sqlalchemy.orm import Session

from wharf.platform.actions.apps import get_owned_app
from wharf.platform.db import session_scope
from wharf.platform.errors import BadRequest, Conflict, NotFound
from wharf.platform.models import App, SshKey, User

MAX_KEY_CHARS = 16_384
MAX_KEYS_PER_USER = 50
ALLOWED_TYPES = re.compile(r"ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com")
COMMENT = re.compile(r"[\x21-\x7e]([\x20-\x7e]{0,198}[\x21-\x7e])?")


def parse_public_key(text: str) -> tuple[str, str, str]:
    """(fingerprint, the key in OpenSSH form without comment, comment) of one OpenSSH public key line."""
    line = text.strip()
    if not line or len(line) > MAX_KEY_CHARS or "\n" in line or "PRIVATE KEY" in line:
        raise BadRequest(
            "Give one public key, as one line of a .pub file (like ~/.ssh/id_ed25519.pub); "
            "never the private key.",
            error_id="invalid_ssh_key",
        )
    kind, _, rest = line.partition(" ")
    if not ALLOWED_TYPES.fullmatch(kind):
        raise BadRequest(
            f"Unsupported key type {kind[:40]!r}: use an ed25519, RSA or ECDSA key (ssh-keygen -t ed25519).",
            error_id="invalid_ssh_key",
        )
    try:
        key = asyncssh.import_public_key(line)
    except (asyncssh.KeyImportError, ValueError) as error:
        raise BadRequest(f"That is not a valid public key: {error}", error_id="invalid_ssh_key") from None
    comment = rest.partition(" ")[2].strip()
    if comment and not COMMENT.fullmatch(comment):
        comment = ""
    exported = key.export_public_key("openssh").decode().split(" ")[:2]
    return key.get_fingerprint("sha256"), " ".join(exported), comment


def add_key(*, session: Session, user: User, public_key: str) -> SshKey:
    fingerprint, normalized, comment = parse_public_key(public_key)
    if session.scalar(select(SshKey).where(SshKey.fingerprint == fingerprint)) is not None:
        raise Conflict(
            f"The key {fingerprint} is already registered (to this or another account). "
            "Each key belongs to one account: make another with ssh-keygen -t ed25519.",
            error_id="ssh_key_taken",
        )
    if len(list_keys(session=session, user=user)) >= MAX_KEYS_PER_USER:
        raise Conflict(
            f"An account holds up to {MAX_KEYS_PER_USER} keys: remove one with `wharf keys:remove`.",
            error_id="too_many_ssh_keys",
        )
    key = SshKey(user_id=user.id, fingerprint=fingerprint, public_key=normalized, comment=comment)
    session.add(key)
    session.flush()
    return key


def list_keys(*, session: Session, user: User) -> list[SshKey]:
    return list(session.scalars(select(SshKey).where(SshKey.user_id == user.id).order_by(SshKey.id)))


def remove_key(*, session: Session, user: User, which: str) -> SshKey:
    """Remove the caller's key named by its fingerprint, or by its comment when that names one key."""
    keys = list_keys(session=session, user=user)
    found = [k for k in keys if k.fingerprint == which] or [
        k for k in keys if k.comment and k.comment == which
    ]
    if not found:
        raise NotFound(
            f"You have no key {which!r}. List yours with `wharf keys`.", error_id="ssh_key_not_found"
        )
    if len(found) > 1:
        raise Conflict(
            f"{len(found)} of your keys have the comment {which!r}: remove one by its fingerprint.",
            error_id="ssh_key_ambiguous",
        )
    session.delete(found[0])
    return found[0]


def key_owner(*, session: Session, fingerprint: str) -> tuple[User, SshKey] | None:
    key = session.scalar(select(SshKey).where(SshKey.fingerprint == fingerprint))
    return (key.user, key) if key is not None else None


def key_may_still_push(*, database_url: str, key_id: int, user_id: int, app_id: int) -> bool:
    """For an SSH push's build and deploy output: is the key still there, the app still the pusher's?"""
    with session_scope(database_url) as session:
        key = session.get(SshKey, key_id)
        app = session.get(App, app_id)
        if key is None or key.user_id != user_id or app is None:
            return False
        try:
            return get_owned_app(session=session, user=key.user, name=app.name).id == app_id
        except NotFound:
            return False
