"""`wharfd backup` and `wharfd restore`: one archive that brings a host's apps back on a fresh host.

The archive (a 0600 `.tar.gz`) holds a consistent copy of the control-plane database (SQLite's online
backup, or `pg_dump -Fc` for PostgreSQL), the secret key that decrypts its config vars, the apps' git
repositories, their uploaded certificates, the add-on backups, the SSH git endpoint's host key (so
git clients see the same host after a restore, with no host-key-changed warning) and the local
certificate authority (so whatever trusts its root, `wharfd ca`, keeps trusting the restored host). It
leaves out what Wharf rebuilds: Redis (queues, the route table, log streams: logs are not kept), build
directories, the router's rendered config and the run state. Restoring puts them in an empty data dir
(the secrets 0600, their folders 0700), migrates the database to this version's schema, and marks the
release images to be checked: at the next `wharfd up`, an app whose current release image is missing (a
new host) is rebuilt from its repository.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from wharf.platform.security.authority import authority_paths
from wharf.platform.settings import Settings
from wharf.platform.sshd.host_key import host_key_path

FORMAT = 1
MANIFEST = "manifest.json"
# Top-level entries of the data dir that the archive carries.
KEPT = ("secret.key", "repos", "certs", "backups", "ssh", "ca")
_AUTHORITY = authority_paths(Path())
# Secrets: 0600 in the archive and when restored, whatever their mode on the backed-up host.
PRIVATE_FILES = (
    "secret.key",
    host_key_path(Path()).as_posix(),
    _AUTHORITY.root_key.as_posix(),
    _AUTHORITY.intermediate.as_posix(),
)
# The folders holding them: 0700 in the archive and when restored.
PRIVATE_FOLDERS = (
    host_key_path(Path()).parent.as_posix(),
    _AUTHORITY.folder.as_posix(),
    _AUTHORITY.root_key.parent.as_posix(),
    _AUTHORITY.intermediate.parent.as_posix(),
)
REBUILD_MARKER = Path("run") / "rebuild-missing-images"

Say = Callable[[str], None]


def _private_in_archive(member: tarfile.TarInfo) -> tarfile.TarInfo:
    name = member.name.removeprefix("data/")
    if name in PRIVATE_FILES:
        member.mode = 0o600
    elif name in PRIVATE_FOLDERS:
        member.mode = 0o700
    return member


def _make_secrets_private(data_dir: Path) -> None:
    """Give the restored secrets and their folders their private modes."""
    for name in PRIVATE_FOLDERS:
        if (data_dir / name).is_dir():
            (data_dir / name).chmod(0o700)
    for name in PRIVATE_FILES:
        if (data_dir / name).exists():
            (data_dir / name).chmod(0o600)


class BackupError(RuntimeError):
    """A backup or restore that cannot go on; the message says what to do."""


def _database_kind(url: str) -> str:
    if url.startswith("sqlite:///"):
        return "sqlite"
    if url.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
        return "postgresql"
    raise BackupError(f"cannot back up a database at {url.split('://', 1)[0]}://: only SQLite and PostgreSQL")


def _libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _dump_database(url: str, destination: Path) -> None:
    if _database_kind(url) == "sqlite":
        source = sqlite3.connect(url.removeprefix("sqlite:///"))
        target = sqlite3.connect(destination)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        return
    done = subprocess.run(
        ["pg_dump", "--format=custom", "--no-owner", f"--file={destination}", _libpq_url(url)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed: {done.stderr.strip()[-500:]}")


def create_backup(settings: Settings, output: Path, say: Say) -> int:
    """Write the archive to `output` (0600); its size in bytes."""
    data_dir = settings.wharf_data_dir
    url = settings.resolved_database_url
    kind = _database_kind(url)
    if not (data_dir / "secret.key").exists():
        raise BackupError(f"{data_dir} holds no Wharf install (no secret.key): check WHARF_DATA_DIR")
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="wharf-backup-") as scratch:
        database = Path(scratch) / ("database.sqlite" if kind == "sqlite" else "database.pgdump")
        say(f"copying the {kind} database")
        _dump_database(url, database)
        manifest = Path(scratch) / MANIFEST
        manifest.write_text(json.dumps({"format": FORMAT, "created_at": time.time(), "database": kind}))
        partial = output.with_name(f".{output.name}.partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle, tarfile.open(fileobj=handle, mode="w:gz") as archive:
            archive.add(manifest, arcname=MANIFEST)
            archive.add(database, arcname=database.name)
            for name in KEPT:
                if (data_dir / name).exists():
                    say(f"adding {name}")
                    archive.add(data_dir / name, arcname=f"data/{name}", filter=_private_in_archive)
        os.replace(partial, output)
    return output.stat().st_size


def _safe_members(archive: tarfile.TarFile) -> list[tarfile.TarInfo]:
    """Regular files and directories under known names only: no links, devices or paths that climb."""
    members = []
    for member in archive.getmembers():
        path = PurePosixPath(member.name)
        if path.is_absolute() or ".." in path.parts:
            raise BackupError(f"the archive holds an unsafe path {member.name!r}: not a Wharf backup")
        if not (member.isfile() or member.isdir()):
            raise BackupError(f"the archive holds a link or device {member.name!r}: not a Wharf backup")
        top = path.parts[0]
        if top == "data" and len(path.parts) > 1 and path.parts[1] not in KEPT:
            raise BackupError(f"the archive holds an unexpected {member.name!r}: not a Wharf backup")
        members.append(member)
    return members


def _restore_database(url: str, dump: Path) -> None:
    if _database_kind(url) == "sqlite":
        target = Path(url.removeprefix("sqlite:///"))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(dump, target)
        target.chmod(0o600)
        return
    done = subprocess.run(
        ["pg_restore", "--clean", "--if-exists", "--no-owner", f"--dbname={_libpq_url(url)}", str(dump)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed: {done.stderr.strip()[-500:]}")


def restore_backup(settings: Settings, archive_path: Path, say: Say, *, force: bool = False) -> None:
    """Bring an archive back into this host's data dir (empty, unless `force`)."""
    from wharf.platform.migrate import SchemaTooNew, upgrade_database

    data_dir = settings.wharf_data_dir
    if not force and ((data_dir / "secret.key").exists() or (data_dir / "wharf.db").exists()):
        raise BackupError(
            f"{data_dir} already holds a Wharf install: restore into an empty WHARF_DATA_DIR, "
            "or pass --force to replace it"
        )
    with tempfile.TemporaryDirectory(prefix="wharf-restore-") as scratch:
        try:
            with tarfile.open(archive_path, mode="r:gz") as archive:
                archive.extractall(scratch, members=_safe_members(archive), filter="data")
        except (OSError, tarfile.TarError) as error:
            raise BackupError(f"cannot read {archive_path}: {error}") from error
        root = Path(scratch)
        try:
            manifest = json.loads((root / MANIFEST).read_text())
        except (OSError, ValueError) as error:
            raise BackupError(f"{archive_path} has no readable {MANIFEST}: not a Wharf backup") from error
        if manifest.get("format") != FORMAT:
            raise BackupError(
                f"{archive_path} is backup format {manifest.get('format')}; this Wharf reads {FORMAT}"
            )
        kind = _database_kind(settings.resolved_database_url)
        if manifest.get("database") != kind:
            raise BackupError(
                f"the backup holds a {manifest.get('database')} database and this host uses {kind}: "
                "set DATABASE_URL to match"
            )
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for name in KEPT:
            source = root / "data" / name
            if source.exists():
                say(f"restoring {name}")
                target = data_dir / name
                if target.is_dir():
                    shutil.rmtree(target)
                shutil.move(str(source), target)
        _make_secrets_private(data_dir)
        say(f"restoring the {kind} database")
        dump = root / ("database.sqlite" if kind == "sqlite" else "database.pgdump")
        _restore_database(settings.resolved_database_url, dump)
    try:
        upgrade_database(settings.resolved_database_url)
    except SchemaTooNew as error:
        raise BackupError(f"the backup was written by a newer Wharf: {error}") from error
    marker = data_dir / REBUILD_MARKER
    marker.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    marker.touch()


def rebuild_missing_images(settings: Settings, start: Callable[[str, int, Path], object], say: Say) -> int:
    """After a restore: rebuild, from its repository, each app whose current release image is absent.

    `start(app_name, owner_id, repo)` queues the build. Returns how many were queued; a no-op (0)
    unless a restore left its marker.
    """
    import docker
    from sqlalchemy import select

    from wharf.platform.db import session_scope
    from wharf.platform.models import App, Release
    from wharf.platform.repos import repo_path

    marker = settings.wharf_data_dir / REBUILD_MARKER
    if not marker.exists():
        return 0
    client = docker.from_env()
    queued = 0
    try:
        with session_scope(settings.resolved_database_url) as session:
            apps = list(session.scalars(select(App).where(App.current_release_version.is_not(None))))
            wanted = []
            for app in apps:
                release = session.scalars(
                    select(Release).where(
                        Release.app_id == app.id, Release.version == app.current_release_version
                    )
                ).first()
                if release is None or not release.image:
                    continue
                try:
                    client.images.get(release.image)
                except docker.errors.ImageNotFound:
                    wanted.append((app.name, app.owner_id))
        for app_name, owner_id in wanted:
            repo = repo_path(settings.wharf_data_dir, app_name)
            if not repo.exists():
                say(f"{app_name}: its image and repository are both missing; push it again")
                continue
            say(f"{app_name}: its release image is missing; rebuilding it from its repository")
            start(app_name, owner_id, repo)
            queued += 1
    finally:
        client.close()
    marker.unlink(missing_ok=True)
    return queued
