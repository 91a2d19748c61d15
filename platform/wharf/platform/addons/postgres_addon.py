"""PostgreSQL 17 add-ons: a cluster per add-on, the app's role owning the app's database.

Dumps and restores run inside the add-on's own container over its local socket, so no credentials
travel and the custom-format dump streams straight to a file in the data dir.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

from wharf.platform.addons.base import AddonError, AddonSpec, BackupResult, random_identifier, random_secret
from wharf.platform.addons.docker_provider import MIB, DockerAddonProvider
from wharf.platform.addons.images import ADDON_HOME
from wharf.platform.security.authority import Leaf

PORT = 5432
TAR_CHUNK_BYTES = 1024 * 1024
BIN = "/usr/lib/postgresql/17/bin"
SOCKET_DIR = "/tmp"  # noqa: S108 - the container's own tmpfs
DATA_DIR = f"{ADDON_HOME}/pgdata"
# Where the entrypoint writes the certificate (the container's tmpfs); `pg_ctl reload` re-reads it.
CERT_FILE, KEY_FILE = "/tmp/server.crt", "/tmp/server.key"  # noqa: S108
INSTALL_CERTIFICATE = (
    "umask 077 && "
    f'printf "%s\\n" "$WHARF_TLS_KEY" >{KEY_FILE}.next && '
    f'printf "%s\\n" "$WHARF_TLS_CERT" >{CERT_FILE}.next && '
    f"mv {KEY_FILE}.next {KEY_FILE} && mv {CERT_FILE}.next {CERT_FILE} && "
    f"{BIN}/pg_ctl reload -s -D {DATA_DIR}"
)
INFO_SQL = (
    "SELECT current_setting('server_version'), pg_size_pretty(pg_database_size(current_database())), "
    "(SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()), "
    "(SELECT count(*) FROM information_schema.tables "
    "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')), "
    "current_setting('max_connections')"
)
TABLES_SQL = (
    "SELECT schemaname || '.' || relname, n_live_tup FROM pg_stat_user_tables ORDER BY schemaname, relname"
)


class PostgresProvider(DockerAddonProvider):
    kind = "postgres"
    port = PORT
    memory_bytes = 512 * MIB

    def new_credentials(self) -> dict[str, str]:
        return {
            "user": random_identifier("u"),
            "password": random_secret(40),
            "database": random_identifier("d"),
        }

    def connection_url(self, spec: AddonSpec) -> str:
        c = spec.credentials
        return f"postgres://{c['user']}:{c['password']}@{spec.host}:{PORT}/{c['database']}"

    def environment(self, spec: AddonSpec) -> dict[str, str]:
        c = spec.credentials
        return {
            "WHARF_PG_USER": c["user"],
            "WHARF_PG_PASSWORD": c["password"],
            "WHARF_PG_DATABASE": c["database"],
        }

    def creation_environment(self, spec: AddonSpec) -> dict[str, str]:
        """The first server certificate (renewed in place by `renew_certificate` while the server runs)."""
        leaf = self.new_leaf(spec)
        if leaf is None:
            return {}
        return {"WHARF_PG_TLS_CERT": leaf.chain_pem.decode(), "WHARF_PG_TLS_KEY": leaf.key_pem.decode()}

    def served_certificate(self, spec: AddonSpec) -> bytes | None:
        code, output = self.exec_in(spec, ["cat", CERT_FILE])
        return output.encode() if code == 0 else None

    def install_certificate(self, spec: AddonSpec, leaf: Leaf) -> None:
        """New files over the old ones, then a reload: the postmaster re-reads its SSL files on SIGHUP,
        new connections get the new certificate and open ones carry on."""
        env = {"WHARF_TLS_CERT": leaf.chain_pem.decode(), "WHARF_TLS_KEY": leaf.key_pem.decode()}
        code, output = self.exec_in(spec, ["/bin/sh", "-c", INSTALL_CERTIFICATE], env=env)
        if code != 0:
            raise AddonError(f"could not install the new certificate in {spec.name}: {output.strip()}")

    def probe_argv(self, spec: AddonSpec) -> list[str]:
        return [f"{BIN}/pg_isready", "-q", "-h", SOCKET_DIR, "-d", spec.credentials["database"]]

    def console_argv(self, spec: AddonSpec, command: str) -> tuple[list[str], dict[str, str]]:
        c = spec.credentials
        argv = [
            f"{BIN}/psql",
            "-X",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            spec.host,
            "-U",
            c["user"],
            "-d",
            c["database"],
        ]
        env = {"PGPASSWORD": c["password"], "PGCONNECT_TIMEOUT": "10", "PAGER": ""}
        return [*argv, "-c", command], env

    def _local_sql(self, spec: AddonSpec, sql: str) -> list[list[str]]:
        """Run SQL as the app's role over the container's socket; rows as lists of fields."""
        argv = [f"{BIN}/psql", "-X", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-h", SOCKET_DIR]
        argv += ["-U", spec.credentials["user"], "-d", spec.credentials["database"], "-c", sql]
        code, output = self.exec_in(spec, argv)
        if code != 0:
            raise AddonError(f"psql failed on {spec.name}: {output.strip()}")
        return [line.split("\t") for line in output.splitlines() if line]

    def info(self, spec: AddonSpec) -> dict[str, str]:
        health = self.health(spec)
        facts = {"Status": health.state.value}
        if not health.ok:
            return facts
        version, size, connections, tables, max_connections = self._local_sql(spec, INFO_SQL)[0]
        facts.update(
            {
                "PG Version": version,
                "Data Size": size,
                "Tables": tables,
                "Connections": f"{connections}/{max_connections}",
            }
        )
        return facts

    def backup_summary(self, spec: AddonSpec) -> list[str]:
        return [f"{name} (~{rows} rows)" for name, rows in self._local_sql(spec, TABLES_SQL)]

    def capture_backup(self, spec: AddonSpec, destination: Path) -> BackupResult:
        """`pg_dump -Fc` streamed from the container into `destination`, hashed on the way."""
        container = self._require(spec)
        argv = [f"{BIN}/pg_dump", "-Fc", "--no-owner", "--no-acl", "-h", SOCKET_DIR]
        argv += ["-U", spec.credentials["user"], "-d", spec.credentials["database"]]
        api = self._client.api
        exec_id = api.exec_create(container.id, argv, stdout=True, stderr=True)["Id"]
        digest, size, errors = hashlib.sha256(), 0, bytearray()
        destination.parent.mkdir(parents=True, exist_ok=True)
        with destination.open("wb") as out:
            for stdout, stderr in api.exec_start(exec_id, stream=True, demux=True):
                if stdout:
                    out.write(stdout)
                    digest.update(stdout)
                    size += len(stdout)
                if stderr:
                    errors += stderr
        code = api.exec_inspect(exec_id)["ExitCode"]
        if code != 0:
            destination.unlink(missing_ok=True)
            raise AddonError(f"pg_dump failed on {spec.name}: {errors.decode(errors='replace').strip()}")
        return BackupResult(size_bytes=size, sha256=digest.hexdigest())

    def restore_backup(self, spec: AddonSpec, source: Path) -> None:
        """Replace the whole database with the dump: drop it, create it empty, load the dump."""
        container = self._require(spec)
        staged = f"restore-{int(time.time())}.dump"
        # Streamed from the file in chunks: a dump of any size never sits in the API's memory.
        if not container.put_archive(ADDON_HOME, tar_of_one_file(staged, source)):
            raise AddonError(f"could not copy the dump into {spec.name}")
        database, user = spec.credentials["database"], spec.credentials["user"]
        reset = [
            f"{BIN}/psql",
            "-X",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            SOCKET_DIR,
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-c",
            f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)',
            "-c",
            f'CREATE DATABASE "{database}" OWNER "{user}"',
        ]
        load = [
            f"{BIN}/pg_restore",
            "--no-owner",
            "--no-acl",
            "--exit-on-error",
            "-h",
            SOCKET_DIR,
            "-U",
            user,
            "-d",
            database,
            f"{ADDON_HOME}/{staged}",
        ]
        try:
            for argv in (reset, load):
                code, output = self.exec_in(spec, argv)
                if code != 0:
                    raise AddonError(f"restore of {spec.name} failed: {output.strip()}")
        finally:
            self.exec_in(spec, ["rm", "-f", f"{ADDON_HOME}/{staged}"])


def tar_of_one_file(name: str, source: Path, chunk_bytes: int = TAR_CHUNK_BYTES) -> Iterator[bytes]:
    """A tar archive holding SOURCE as NAME, produced chunk by chunk as the file is read."""
    with source.open("rb") as dump:
        size = os.fstat(dump.fileno()).st_size
        info = tarfile.TarInfo(name)
        info.size = size
        info.mode = 0o644
        info.mtime = int(time.time())
        yield info.tobuf(format=tarfile.PAX_FORMAT)
        sent = 0
        while sent < size and (data := dump.read(min(chunk_bytes, size - sent))):
            sent += len(data)
            yield data
    if sent != size:
        raise AddonError(f"the dump {source.name} changed while it was being restored")
    yield b"\0" * ((-size) % tarfile.BLOCKSIZE) + b"\0" * (2 * tarfile.BLOCKSIZE)
