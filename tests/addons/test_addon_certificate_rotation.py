"""An add-on's TLS certificate is replaced in the running server: open connections carry on, new ones see
the new certificate, and the container is neither restarted nor re-created (issue 23, item 5)."""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterator

import pytest
from docker.models.containers import Container

from tests.addons.test_addons_e2e import REDIS_TLS_CONNECT, AddonLab, lab  # noqa: F401  (fixture)
from wharf.platform.addons import AddonSpec
from wharf.platform.addons.kv_addons import RedisProvider
from wharf.platform.addons.postgres_addon import PostgresProvider
from wharf.platform.runtime.base import network_name

pytestmark = pytest.mark.e2e

CLIENT_IMAGE = "wharf/addon-postgres:17"  # the run image plus psql: python3 and psql both
PG_QUERY = "SELECT pg_backend_pid(), ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid();"
# One psql session held open across the rotation: a query, a mark that it ran, a wait, the same query.
HOLD_CONNECTIONS = f"""
printf '%s' "$ROOT" >/tmp/root.crt
python3 -c "$REDIS_HOLD" >/tmp/redis.out 2>&1 &
{{ echo "{PG_QUERY}"; echo '\\! touch /tmp/pg-ready'; while [ ! -e /tmp/go ]; do sleep 0.1; done;
   echo "{PG_QUERY}"; }} | psql -X -At -v ON_ERROR_STOP=1 "$PG_URL" >/tmp/pg.out 2>&1
wait
sed 's/^/pg /' /tmp/pg.out
cat /tmp/redis.out
"""
REDIS_HOLD = (
    REDIS_TLS_CONNECT
    + """
import time
print("redis", call("AUTH", url.username, url.password), call("INCR", "held"), flush=True)
open("/tmp/redis-ready", "w").close()
while not os.path.exists("/tmp/go"):
    time.sleep(0.1)
print("redis", call("INCR", "held"), flush=True)
"""
)
# New TLS connections, verified with the Wharf root: the serial of the certificate each server shows.
SERIALS = """
import os, socket, ssl, struct
context = ssl.create_default_context(cadata=os.environ["ROOT"])
pg = socket.create_connection((os.environ["PG_HOST"], 5432), 5)
pg.sendall(struct.pack("!ii", 8, 80877103))  # SSLRequest
assert pg.recv(1) == b"S"
pg = context.wrap_socket(pg, server_hostname=os.environ["PG_HOST"])
redis = context.wrap_socket(socket.create_connection((os.environ["REDIS_HOST"], 6380), 5),
                            server_hostname=os.environ["REDIS_HOST"])
print(int(pg.getpeercert()["serialNumber"], 16), int(redis.getpeercert()["serialNumber"], 16))
"""


def started(addons: AddonLab, spec: AddonSpec) -> tuple[str, str, int]:
    container = addons.client.containers.get(spec.name)
    return container.id, container.attrs["State"]["StartedAt"], int(container.attrs["RestartCount"])


def serials(addons: AddonLab, pg: AddonSpec, redis: AddonSpec, root: str) -> tuple[int, int]:
    env = {"ROOT": root, "PG_HOST": pg.host, "REDIS_HOST": redis.host}
    code, output = addons.run(CLIENT_IMAGE, ["python3", "-c", SERIALS], app=pg.app, env=env)
    assert code == 0, output
    first, second = output.split()
    return int(first), int(second)


@pytest.fixture
def held(lab: AddonLab) -> Iterator[tuple[PostgresProvider, AddonSpec, RedisProvider, AddonSpec, Container]]:  # noqa: F811
    """A Postgres and a Redis add-on of one app, and a dyno holding a TLS connection to each."""
    pg_provider, pg = lab.provision(PostgresProvider)
    redis_provider, redis = lab.provision(RedisProvider, app=pg.app)
    assert isinstance(pg_provider, PostgresProvider) and isinstance(redis_provider, RedisProvider)
    root = (lab.data_dir / "ca" / "root.crt").read_text()
    tls_url = redis_provider.tls_url(redis)
    assert tls_url is not None
    env = {
        "ROOT": root,
        "REDIS_HOLD": REDIS_HOLD,
        "REDIS_TLS_URL": tls_url,
        "PG_URL": pg_provider.connection_url(pg) + "?sslmode=verify-full&sslrootcert=/tmp/root.crt",
    }
    dyno = lab.client.containers.run(
        CLIENT_IMAGE, entrypoint=["sh", "-c", HOLD_CONNECTIONS], environment=env,
        network=network_name(pg.app), detach=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while dyno.exec_run(["sh", "-c", "test -e /tmp/pg-ready && test -e /tmp/redis-ready"]).exit_code:
            assert time.monotonic() < deadline, dyno.logs().decode()
            time.sleep(0.2)
        yield pg_provider, pg, redis_provider, redis, dyno
    finally:
        dyno.remove(force=True)


def test_certificates_rotate_in_the_running_servers_without_dropping_connections(
    lab: AddonLab,  # noqa: F811
    held: tuple[PostgresProvider, AddonSpec, RedisProvider, AddonSpec, Container],
) -> None:
    pg_provider, pg, redis_provider, redis, dyno = held
    root = (lab.data_dir / "ca" / "root.crt").read_text()
    before = serials(lab, pg, redis, root)
    containers = started(lab, pg), started(lab, redis)
    # A fresh certificate is not due: nothing is replaced.
    assert pg_provider.renew_certificate(pg) is None and redis_provider.renew_certificate(redis) is None

    # Where a certificate has less than a third of its life left, it is replaced: here because the
    # certificate life was raised (as WHARF_ADDON_CERTIFICATE_DAYS would) to a year.
    for provider in (pg_provider, redis_provider):
        provider.certificate_lifetime = datetime.timedelta(days=365)
    pg_serial = pg_provider.renew_certificate(pg)
    redis_serial = redis_provider.renew_certificate(redis)

    assert pg_serial is not None and redis_serial is not None
    after = serials(lab, pg, redis, root)
    assert after == (int(pg_serial, 16), int(redis_serial, 16))
    assert after[0] != before[0] and after[1] != before[1]
    assert (started(lab, pg), started(lab, redis)) == containers
    dyno.exec_run(["touch", "/tmp/go"])
    assert int(dyno.wait(timeout=30)["StatusCode"]) == 0
    lines = dyno.logs().decode().split("\n")
    pg_lines = [line for line in lines if line.startswith("pg ")]
    assert len(pg_lines) == 2 and pg_lines[0] == pg_lines[1] and pg_lines[0].endswith("|t"), lines
    assert [line for line in lines if line.startswith("redis ")] == ["redis +OK :1", "redis :2"], lines
    # The key is the server's alone: 0600 in the container's tmpfs.
    for spec, pattern in ((pg, "/tmp/server.key"), (redis, "/tmp/redis-tls-*.key")):
        mode = lab.client.containers.get(spec.name).exec_run(["sh", "-c", f"stat -c %a {pattern}"])
        assert mode.output.decode().split() == ["600"]
