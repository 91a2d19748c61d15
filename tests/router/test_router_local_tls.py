"""Default hostnames and the API over HTTPS with leaves from the local authority, rotated under load."""

from __future__ import annotations

import datetime
import http.client
import socket
import ssl
import threading
import time
from pathlib import Path

import pytest
import redis
from cryptography import x509

from tests.utils.router import EchoServer, running_dynos, running_router
from wharf.platform.security.authority import ensure_authority
from wharf.platform.security.leaves import LocalCertificates
from wharf.router.routes import AppRoute

pytestmark = pytest.mark.e2e


def local_source(data_dir: Path, **options: object) -> tuple[LocalCertificates, ssl.SSLContext]:
    paths = ensure_authority(data_dir)
    source = LocalCertificates(intermediate=paths.intermediate, folder=data_dir / "leaves", **options)  # type: ignore[arg-type]
    return source, ssl.create_default_context(cafile=str(paths.root_cert))


def https_get(port: int, hostname: str, context: ssl.SSLContext, path: str = "/") -> http.client.HTTPResponse:
    """A request with hostname verification on, sent to 127.0.0.1 (nothing resolves *.localhost here)."""
    connection = http.client.HTTPSConnection(hostname, port, timeout=10, context=context)
    connection.sock = context.wrap_socket(
        socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname=hostname
    )
    connection.request("GET", path, headers={"Host": hostname})
    answer = connection.getresponse()
    answer.read()
    connection.close()
    return answer


def served_serial(port: int, hostname: str, context: ssl.SSLContext) -> int:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=hostname) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
        assert der is not None
        return x509.load_der_x509_certificate(der).serial_number


def test_every_default_hostname_answers_https_verified_by_the_local_root(
    redis_client: redis.Redis[bytes], tmp_path: Path
) -> None:
    source, trust_root = local_source(tmp_path)
    with running_dynos("web.1") as (dyno,), running_router(redis_client, certificate_source=source) as router:
        router.publish(AppRoute(app="myapp", backends=(dyno.backend,)))
        port = router.settings.https_port
        answer = router.https_request("myapp.localhost", "/over-tls", trust_root)
        assert answer.status == 200
        headers = answer.json()["headers"]
        assert isinstance(headers, dict) and headers["x-forwarded-proto"] == "https"
        assert router.request("myapp.localhost").json()["headers"]["x-forwarded-proto"] == "http"  # type: ignore[index]
        with pytest.raises(ssl.SSLCertVerificationError):
            served_serial(port, "myapp.localhost", ssl.create_default_context())
        wrong_name = ssl.create_default_context(cafile=str(tmp_path / "ca" / "root.crt"))
        with pytest.raises(ssl.SSLError):
            served_serial(port, "other.localhost", wrong_name)


def test_the_api_is_served_over_https_with_hsts_and_http_redirects(
    redis_client: redis.Redis[bytes], tmp_path: Path
) -> None:
    source, trust_root = local_source(tmp_path)
    api = EchoServer("api")
    serving = threading.Thread(target=api.serve_forever, kwargs={"poll_interval": 0.05})
    serving.start()
    upstream = f"127.0.0.1:{api.server_address[1]}"
    try:
        with (
            running_dynos("web.1") as (dyno,),
            running_router(
                redis_client, certificate_source=source, api_hostname="wharf.localhost", api_upstream=upstream
            ) as router,
        ):
            # An app whose default hostname is the API's does not take it over.
            router.publish(AppRoute(app="wharf", backends=(dyno.backend,)))
            port = router.settings.https_port
            answer = router.https_request("wharf.localhost", "/api/health", trust_root)
            assert answer.status == 200
            assert answer.json()["backend"] == "api"
            headers = answer.json()["headers"]
            assert isinstance(headers, dict) and headers["x-forwarded-proto"] == "https"
            assert answer.headers["strict-transport-security"].startswith("max-age=")
            plain = router.request("wharf.localhost", "/login")
            assert plain.status == 301
            assert plain.headers["location"] == f"https://wharf.localhost:{port}/login"
            assert dyno.server.hits == 0
    finally:
        api.shutdown()
        api.server_close()
        serving.join()


class HttpsHammer:
    """HTTPS clients on fresh connections and one on keep-alive, recording every failure."""

    def __init__(self, port: int, hostname: str, context: ssl.SSLContext) -> None:
        self.port, self.hostname, self.context = port, hostname, context
        self.stop = threading.Event()
        self.answers = 0
        self.failures: list[str] = []
        self.lock = threading.Lock()

    def fresh_connections(self) -> None:
        while not self.stop.is_set():
            try:
                status = https_get(self.port, self.hostname, self.context).status
            except (OSError, http.client.HTTPException) as error:
                status, detail = 0, repr(error)
            else:
                detail = f"status {status}"
            with self.lock:
                if status == 200:
                    self.answers += 1
                else:
                    self.failures.append(detail)

    def keepalive_connection(self) -> None:
        """Like a browser: a request on an idle connection the server closed is sent again on a new one."""
        connection: http.client.HTTPSConnection | None = None
        while not self.stop.is_set():
            for attempt in (1, 2):
                reused = connection is not None
                if connection is None:
                    connection = http.client.HTTPSConnection(self.hostname, self.port, timeout=10)
                    connection.sock = self.context.wrap_socket(
                        socket.create_connection(("127.0.0.1", self.port), timeout=10),
                        server_hostname=self.hostname,
                    )
                try:
                    connection.request("GET", "/", headers={"Host": self.hostname})
                    answer = connection.getresponse()
                    answer.read()
                except (OSError, http.client.HTTPException) as error:
                    connection.close()
                    connection = None
                    if reused and attempt == 1:
                        continue
                    with self.lock:
                        self.failures.append(repr(error))
                    break
                with self.lock:
                    if answer.status == 200:
                        self.answers += 1
                    else:
                        self.failures.append(f"status {answer.status}")
                break
        if connection is not None:
            connection.close()


def test_a_leaf_rotated_under_load_drops_no_request(redis_client: redis.Redis[bytes], tmp_path: Path) -> None:
    # A leaf of a minute, renewed once it is three seconds old: every resync of the router rotates it.
    source, trust_root = local_source(tmp_path, lifetime=datetime.timedelta(seconds=60), renew_fraction=0.95)
    with running_dynos("web.1") as (dyno,), running_router(redis_client, certificate_source=source) as router:
        assert router.controller is not None
        router.controller.resync_seconds = 1.0
        router.publish(AppRoute(app="myapp", backends=(dyno.backend,)))
        port = router.settings.https_port
        serials = {served_serial(port, "myapp.localhost", trust_root)}
        hammer = HttpsHammer(port, "myapp.localhost", trust_root)
        clients = [threading.Thread(target=hammer.fresh_connections) for _ in range(2)]
        clients.append(threading.Thread(target=hammer.keepalive_connection))
        for client in clients:
            client.start()
        try:
            deadline = time.monotonic() + 30
            while len(serials) < 3 and time.monotonic() < deadline:
                serials.add(served_serial(port, "myapp.localhost", trust_root))
                time.sleep(0.2)
        finally:
            hammer.stop.set()
            for client in clients:
                client.join()
        assert len(serials) >= 3, "the leaf was not rotated twice within 30 s"
        assert hammer.failures == []
        assert hammer.answers > 50
