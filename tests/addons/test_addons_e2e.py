"""Add-ons on real Docker: containers on an app's network, reached the way a dyno reaches them."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import docker
import httpx
import pytest

from tests.conftest import free_port, wait_for_http
from tests.utils.addons_api import create_addon, new_app
from tests.utils.router import self_signed
from wharf.platform.addons import AddonSpec, installation_id
from wharf.platform.addons.docker_provider import DockerAddonProvider, volume_name
from wharf.platform.addons.kv_addons import MemcachedProvider, RedisProvider
from wharf.platform.addons.postgres_addon import PostgresProvider
from wharf.platform.migrate import upgrade_database
from wharf.platform.runtime.base import network_name
from wharf.platform.runtime.docker_runtime import DockerRuntime
from wharf.platform.security.authority import ensure_authority
from wharf.platform.stack import DEFAULT_RUN_IMAGE

pytestmark = pytest.mark.e2e

REDIS_INCR = """
import os, socket, urllib.parse
url = urllib.parse.urlsplit(os.environ["REDIS_URL"])
s = socket.create_connection((url.hostname, url.port), 5)
def call(*words):
    parts = [b"$%d\\r\\n%s\\r\\n" % (len(w), w.encode()) for w in words]
    s.sendall(b"*%d\\r\\n" % len(words) + b"".join(parts))
    return s.recv(1024).decode().split("\\r\\n")[0]
print(call("AUTH", url.username, url.password), call("INCR", "visits"))
"""
# A connection to REDIS_TLS_URL verified with ROOT, and call() sending one command on it.
REDIS_TLS_CONNECT = """
import os, socket, ssl, urllib.parse
url = urllib.parse.urlsplit(os.environ["REDIS_TLS_URL"])
context = ssl.create_default_context(cadata=os.environ["ROOT"])
s = context.wrap_socket(socket.create_connection((url.hostname, url.port), 5), server_hostname=url.hostname)
def call(*words):
    parts = [b"$%d\\r\\n%s\\r\\n" % (len(w), w.encode()) for w in words]
    s.sendall(b"*%d\\r\\n" % len(words) + b"".join(parts))
    return s.recv(1024).decode().split("\\r\\n")[0]
"""
REDIS_TLS_INCR = (
    REDIS_TLS_CONNECT
    + """
print(url.scheme, s.version(), call("AUTH", url.username, url.password), call("INCR", "visits"))
"""
)
MEMCACHED_SET_GET = """
import os, socket, urllib.parse
url = urllib.parse.urlsplit(os.environ["MEMCACHED_URL"])
s = socket.create_connection((url.hostname, url.port), 5)
s.sendall(b"set greeting 0 0 5\\r\\nhello\\r\\nget greeting\\r\\n")
print(s.recv(1024).decode().replace("\\r\\n", " "))
"""


@dataclass
class AddonLab:
    """Providers for one scratch installation, and the add-ons and networks to remove afterwards."""

    client: docker.DockerClient
    data_dir: Path
    specs: list[tuple[DockerAddonProvider, AddonSpec]] = field(default_factory=list)
    apps: list[str] = field(default_factory=list)

    def provider(self, kind: type[DockerAddonProvider]) -> DockerAddonProvider:
        home = installation_id(self.data_dir)
        intermediate = ensure_authority(self.data_dir).intermediate
        return kind(
            client=self.client, home=home, lock_dir=self.data_dir / "locks", tls_intermediate=intermediate
        )

    def provision(
        self, kind: type[DockerAddonProvider], app: str | None = None
    ) -> tuple[DockerAddonProvider, AddonSpec]:
        provider = self.provider(kind)
        app = app or self.new_app()
        spec = AddonSpec(
            name=f"{provider.kind}-e2e-{secrets.token_hex(3)}",
            app=app,
            kind=provider.kind,
            credentials=provider.new_credentials(),
        )
        self.specs.append((provider, spec))
        provider.provision(spec)
        return provider, spec

    def new_app(self) -> str:
        app = f"addon-e2e-{secrets.token_hex(3)}"
        DockerRuntime(self.client).ensure_network(app)
        self.apps.append(app)
        return app

    def run(self, image: str, argv: list[str], *, app: str, env: dict[str, str]) -> tuple[int, str]:
        """A one-off container on an app's network, like a dyno or `wharf run`."""
        container = self.client.containers.create(
            image,
            entrypoint=argv,
            environment=env,
            network=network_name(app),
            user="1000:1000" if image == DEFAULT_RUN_IMAGE else None,
        )
        try:
            container.start()
            code = int(container.wait(timeout=60)["StatusCode"])
            return code, container.logs().decode(errors="replace")
        finally:
            container.remove(force=True)

    def psql(self, spec: AddonSpec, url: str, sql: str, *, app: str | None = None) -> tuple[int, str]:
        argv = ["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", url, "-c", sql]
        return self.run("wharf/addon-postgres:17", argv, app=app or spec.app, env={"PGCONNECT_TIMEOUT": "3"})

    def cleanup(self) -> None:
        for provider, spec in self.specs:
            provider.deprovision(spec)
        for app in self.apps:
            DockerRuntime(self.client).remove_network(app)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[AddonLab]:
    client = docker.from_env()
    lab = AddonLab(client=client, data_dir=tmp_path)
    yield lab
    lab.cleanup()
    client.close()


def test_postgres_rows_survive_a_restart_and_a_recreated_container(lab: AddonLab) -> None:
    provider, spec = lab.provision(PostgresProvider)
    url = provider.connection_url(spec)

    created = lab.psql(spec, url, "CREATE TABLE notes (body text); INSERT INTO notes VALUES ('one'), ('two')")
    lab.client.containers.get(spec.name).restart(timeout=10)
    provider.wait_healthy(spec, lab.client.containers.get(spec.name))
    after_restart = lab.psql(spec, url, "SELECT body FROM notes ORDER BY body")
    lab.client.containers.get(spec.name).remove(force=True)
    provider.provision(spec)
    after_recreate = lab.psql(spec, url, "SELECT count(*) FROM notes")

    assert created[0] == 0, created[1]
    assert after_restart == (0, "one\ntwo\n")
    assert after_recreate == (0, "2\n")


TLS_PSQL = 'printf "%s" "$ROOT" >/tmp/root.crt && psql -X -At -v ON_ERROR_STOP=1 "$URL" -c "$SQL"'
SSL_IN_USE = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"


def test_postgres_serves_tls_from_the_wharf_authority_and_plain_connections_still_work(
    lab: AddonLab, tmp_path: Path
) -> None:
    provider, spec = lab.provision(PostgresProvider)
    url = provider.connection_url(spec)
    root = (lab.data_dir / "ca" / "root.crt").read_text()
    other_root = Path(self_signed(tmp_path, "elsewhere").cert_path).read_text()

    def psql(query: str, trusted: str = root) -> tuple[int, str]:
        env = {"PGCONNECT_TIMEOUT": "3", "ROOT": trusted, "URL": url + query, "SQL": SSL_IN_USE}
        return lab.run("wharf/addon-postgres:17", ["sh", "-c", TLS_PSQL], app=spec.app, env=env)

    assert psql("?sslmode=require") == (0, "t\n")
    assert psql("?sslmode=verify-full&sslrootcert=/tmp/root.crt") == (0, "t\n")
    assert psql("?sslmode=disable") == (0, "f\n")
    refused = psql("?sslmode=verify-full&sslrootcert=/tmp/root.crt", trusted=other_root)
    assert refused[0] != 0 and "certificate verify failed" in refused[1]


def test_backup_then_drop_then_restore_brings_the_rows_back(lab: AddonLab, tmp_path: Path) -> None:
    provider, spec = lab.provision(PostgresProvider)
    assert isinstance(provider, PostgresProvider)
    url = provider.connection_url(spec)
    lab.psql(
        spec,
        url,
        "CREATE TABLE notes (body text); INSERT INTO notes SELECT 'n' || g FROM generate_series(1, 50) g",
    )

    backup = provider.capture_backup(spec, tmp_path / "b001.dump")
    dropped = lab.psql(spec, url, "DROP TABLE notes")
    provider.restore_backup(spec, tmp_path / "b001.dump")

    assert backup.size_bytes == (tmp_path / "b001.dump").stat().st_size > 0
    assert (tmp_path / "b001.dump").read_bytes()[:5] == b"PGDMP"
    assert dropped[0] == 0
    assert lab.psql(spec, url, "SELECT count(*) FROM notes") == (0, "50\n")


def test_a_dyno_counts_in_redis_and_the_count_survives_a_restart(lab: AddonLab) -> None:
    provider, spec = lab.provision(RedisProvider)
    env = {"REDIS_URL": provider.connection_url(spec)}

    first = lab.run(DEFAULT_RUN_IMAGE, ["python3", "-c", REDIS_INCR], app=spec.app, env=env)
    second = lab.run(DEFAULT_RUN_IMAGE, ["python3", "-c", REDIS_INCR], app=spec.app, env=env)
    lab.client.containers.get(spec.name).restart(timeout=10)
    provider.wait_healthy(spec, lab.client.containers.get(spec.name))
    third = lab.run(DEFAULT_RUN_IMAGE, ["python3", "-c", REDIS_INCR], app=spec.app, env=env)

    assert (first, second, third) == ((0, "+OK :1\n"), (0, "+OK :2\n"), (0, "+OK :3\n"))


def test_a_dyno_reaches_redis_over_rediss_verified_by_the_wharf_root(lab: AddonLab) -> None:
    provider, spec = lab.provision(RedisProvider)
    tls_url = provider.tls_url(spec)
    assert tls_url is not None and tls_url.startswith("rediss://")
    root = (lab.data_dir / "ca" / "root.crt").read_text()
    env = {"REDIS_TLS_URL": tls_url, "ROOT": root}
    code, output = lab.run(DEFAULT_RUN_IMAGE, ["python3", "-c", REDIS_TLS_INCR], app=spec.app, env=env)
    assert (code, output.split()) == (0, ["rediss", "TLSv1.3", "+OK", ":1"]), output
    plain = {"REDIS_URL": provider.connection_url(spec)}
    assert lab.run(DEFAULT_RUN_IMAGE, ["python3", "-c", REDIS_INCR], app=spec.app, env=plain) == (
        0,
        "+OK :2\n",
    )


def test_a_dyno_uses_memcached(lab: AddonLab) -> None:
    provider, spec = lab.provision(MemcachedProvider)
    env = {"MEMCACHED_URL": provider.connection_url(spec)}

    code, printed = lab.run(DEFAULT_RUN_IMAGE, ["python3", "-c", MEMCACHED_SET_GET], app=spec.app, env=env)

    assert (code, printed.strip()) == (0, "STORED VALUE greeting 0 5 hello END")


def test_another_apps_dyno_cannot_reach_the_database_by_name_or_address(lab: AddonLab) -> None:
    provider, spec = lab.provision(PostgresProvider)
    url = provider.connection_url(spec)
    container = lab.client.containers.get(spec.name)
    address = container.attrs["NetworkSettings"]["Networks"][network_name(spec.app)]["IPAddress"]
    other_app = lab.new_app()

    by_name = lab.psql(spec, url, "SELECT 1", app=other_app)
    by_address = lab.psql(spec, url.replace(f"@{spec.name}:", f"@{address}:"), "SELECT 1", app=other_app)
    own_app = lab.psql(spec, url, "SELECT 1")

    assert by_name[0] != 0 and "could not translate host name" in by_name[1]
    assert by_address[0] != 0 and "timeout" in by_address[1]
    assert own_app == (0, "1\n")


def test_addon_containers_are_hardened_unpublished_and_labelled(lab: AddonLab) -> None:
    for kind in (PostgresProvider, RedisProvider, MemcachedProvider):
        _provider, spec = lab.provision(kind, app=lab.apps[0] if lab.apps else None)
        attrs = lab.client.containers.get(spec.name).attrs
        host = attrs["HostConfig"]

        assert attrs["Config"]["User"] not in ("", "root", "0")
        assert host["CapDrop"] == ["ALL"] and "no-new-privileges" in host["SecurityOpt"]
        assert host["ReadonlyRootfs"] is True and host["Memory"] > 0 and host["PidsLimit"] > 0
        assert host["RestartPolicy"]["Name"] == "unless-stopped"
        assert not host["PortBindings"] and not attrs["NetworkSettings"]["Ports"].get("5432/tcp")
        assert list(attrs["NetworkSettings"]["Networks"]) == [network_name(spec.app)]
        labels = attrs["Config"]["Labels"]
        assert (labels["wharf.addon"], labels["wharf.app"], labels["wharf.addon-kind"]) == (
            spec.name,
            spec.app,
            spec.kind,
        )


def test_deprovision_removes_the_container_and_its_data(lab: AddonLab) -> None:
    provider, spec = lab.provision(PostgresProvider)

    provider.deprovision(spec)

    assert not lab.client.containers.list(ignore_removed=True, all=True, filters={"name": f"^{spec.name}$"})
    assert not lab.client.volumes.list(filters={"name": volume_name(spec.name)})


@pytest.fixture
def docker_api(tmp_path: Path, redis_url: str) -> Iterator[str]:
    """`wharfd api` on the Docker runtime, with a data dir and database of its own."""
    port = free_port()
    env = dict(os.environ)
    env.update(
        WHARF_DATA_DIR=str(tmp_path / "data"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'wharf.db'}",
        REDIS_URL=redis_url,
        WHARF_SECRET_KEY=secrets.token_hex(32),
        WHARF_API_PORT=str(port),
        WHARF_ENV="test",
        WHARF_RUNTIME="docker",
    )
    upgrade_database(env["DATABASE_URL"])
    with (tmp_path / "api.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "wharf.platform.wharfd", "api"], env=env, stdout=log, stderr=log
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/api/health", process=process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_through_the_api_a_database_is_created_used_and_only_destroyed_when_confirmed(
    docker_api: str, tmp_path: Path
) -> None:
    client = docker.from_env()
    invite = subprocess.run(
        [sys.executable, "-m", "wharf.platform.wharfd", "invites", "create"],
        env={
            **os.environ,
            "WHARF_DATA_DIR": str(tmp_path / "data"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'wharf.db'}",
        },
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    signup = httpx.post(
        f"{docker_api}/api/signup",
        json={"invite": invite, "email": "e2e@example.com", "password": "correct horse battery"},
    )
    api = httpx.Client(
        base_url=docker_api, headers={"Authorization": f"Bearer {signup.json()['token']}"}, timeout=120
    )
    app = new_app(api)
    try:
        addon = create_addon(api, app, "postgres")
        base = f"/api/apps/{app}/addons/{addon['name']}"
        wrote = api.post(
            f"{base}/console", json={"command": "CREATE TABLE t (n int); INSERT INTO t VALUES (42)"}
        )
        refused = api.delete(base, params={"confirm": "nope"})
        read = api.post(f"{base}/console", json={"command": "SELECT n FROM t"}).json()
        info = api.get(base).json()["facts"]
        destroyed = api.delete(base, params={"confirm": addon["name"]})

        assert wrote.json()["exit_code"] == 0, wrote.text
        assert refused.status_code == 400 and read["exit_code"] == 0 and "42" in read["output"]
        assert info["PG Version"].startswith("17.") and info["Tables"] == "1"
        assert destroyed.status_code == 204
        assert not client.containers.list(
            ignore_removed=True, all=True, filters={"name": f"^{addon['name']}$"}
        )
        assert not client.volumes.list(filters={"name": volume_name(addon["name"])})
    finally:
        for container in client.containers.list(
            ignore_removed=True, all=True, filters={"label": f"wharf.app={app}"}
        ):
            container.remove(force=True, v=True)
        DockerRuntime(client).remove_network(app)
        client.close()
