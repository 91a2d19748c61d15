"""The controller keeps nginx in step with Redis: reloads under load, bursts, outages, bad entries."""

from __future__ import annotations

import http.client
import logging
import shutil
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import redis

from tests.utils.network import KeepaliveClient, free_port
from tests.utils.router import private_state_dir, running_dynos, running_router
from wharf.router.controller import run_router
from wharf.router.render import render_nginx_config
from wharf.router.routes import ROUTES_KEY, AppRoute, RouteTable, publish_routes

pytestmark = pytest.mark.e2e


class Hammer:
    """Client threads sending requests until stopped, counting answers by backend and failures."""

    def __init__(self, port: int, host: str) -> None:
        self.port, self.host = port, host
        self.stop = threading.Event()
        self.backends: Counter[str] = Counter()
        self.failures: list[str] = []
        self.stale_keepalive_retries = 0
        self.lock = threading.Lock()

    def _record(self, status: int, body: bytes) -> None:
        with self.lock:
            if status != 200:
                self.failures.append(f"status {status}: {body[:80]!r}")
            else:
                self.backends[body.split(b'"backend": "')[1].split(b'"')[0].decode()] += 1

    def fresh_connections(self) -> None:
        while not self.stop.is_set():
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                connection.request("GET", "/", headers={"Host": self.host})
                answer = connection.getresponse()
                self._record(answer.status, answer.read())
            except OSError as error:
                with self.lock:
                    self.failures.append(repr(error))
            finally:
                connection.close()

    def keepalive_connection(self) -> None:
        """Like a browser: an idle connection the server closed is retried once on a new one."""
        client = KeepaliveClient(self.port)
        while not self.stop.is_set():
            try:
                self._record(*client.get(self.host))
            except OSError as error:
                with self.lock:
                    self.failures.append(repr(error))
        client.close()
        with self.lock:
            self.stale_keepalive_retries += client.stale_retries


def test_route_changes_under_load_fail_no_request(redis_client: redis.Redis[bytes]) -> None:
    with running_dynos("web.1", "web.2", "web.3") as dynos, running_router(redis_client) as router:
        backends = [d.backend for d in dynos]
        router.publish(AppRoute(app="myapp", backends=tuple(backends)))
        hammer = Hammer(router.settings.http_port, "myapp.localhost")
        clients = [threading.Thread(target=hammer.fresh_connections) for _ in range(3)]
        clients.append(threading.Thread(target=hammer.keepalive_connection))
        for client in clients:
            client.start()
        try:
            subsets = [(0, 1), (1, 2), (0, 2), (0, 1, 2), (2,), (0,)]
            for change in range(18):
                chosen = tuple(backends[i] for i in subsets[change % len(subsets)])
                extra = AppRoute(app=f"other{change}", backends=chosen)
                router.publish(AppRoute(app="myapp", backends=chosen), extra)
                time.sleep(0.1)
        finally:
            hammer.stop.set()
            for client in clients:
                client.join()
        assert hammer.failures == []
        assert set(hammer.backends) == {"web.1", "web.2", "web.3"}
        assert sum(hammer.backends.values()) > 200


def test_a_burst_of_changes_is_applied_in_few_reloads(
    redis_client: redis.Redis[bytes], caplog: pytest.LogCaptureFixture
) -> None:
    with running_dynos("web.1", "web.2") as dynos, running_router(redis_client) as router:
        caplog.set_level(logging.INFO, logger="wharf.router.controller")
        for _ in range(20):
            router.publish(AppRoute(app="myapp", backends=(dynos[0].backend,)), wait=False)
        router.publish(AppRoute(app="myapp", backends=(dynos[1].backend,)))
        router.wait_for_backend("myapp.localhost", "web.2")
        reloads = [r for r in caplog.records if "router serving route table" in r.getMessage()]
        assert 1 <= len(reloads) <= 3


def test_routes_are_reread_even_when_the_change_message_is_lost(redis_client: redis.Redis[bytes]) -> None:
    with running_dynos("web.1") as (dyno,), running_router(redis_client) as router:
        assert router.controller is not None
        router.controller.resync_seconds = 0.5
        table = RouteTable(generation=99, apps=(AppRoute(app="myapp", backends=(dyno.backend,)),))
        redis_client.set(ROUTES_KEY, table.to_json())
        router.wait_for_backend("myapp.localhost", "web.1")


def test_an_unsafe_entry_is_skipped_and_the_other_apps_still_served(redis_client: redis.Redis[bytes]) -> None:
    with running_dynos("web.1") as (dyno,), running_router(redis_client) as router:
        backend = {"dyno": "web.1", "host": "127.0.0.1", "port": dyno.port}
        redis_client.set(
            ROUTES_KEY,
            '{"generation": 5, "apps": ['
            '{"app": "evil", "hostnames": ["x.com; include /etc/shadow"], "backends": []},'
            f'{{"app": "myapp", "backends": [{str(backend).replace(chr(39), chr(34))}]}}]}}',
        )
        redis_client.publish("wharf:routes:changed", "5")
        router.wait_for_backend("myapp.localhost", "web.1")
        assert router.request("evil.localhost").status == 404


def test_run_router_serves_routes_published_before_it_started(redis_url: str) -> None:
    client: redis.Redis[bytes] = redis.Redis.from_url(redis_url)
    state_dir = private_state_dir()
    stop = threading.Event()
    port = free_port()
    with running_dynos("web.1") as (dyno,):
        publish_routes(
            client, RouteTable(generation=1, apps=(AppRoute(app="early", backends=(dyno.backend,)),))
        )
        thread = threading.Thread(
            target=run_router,
            kwargs={
                "redis_url": redis_url,
                "http_port": port,
                "state_dir": state_dir,
                "domain": "wharf.test",
                "https_port": free_port(),
                "worker_processes": 1,
                "stop": stop,
            },
        )
        thread.start()
        try:
            deadline = time.monotonic() + 10
            status = None
            while time.monotonic() < deadline and status != 200:
                try:
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                    connection.request("GET", "/", headers={"Host": "early.wharf.test"})
                    status = connection.getresponse().status
                    connection.close()
                except OSError:
                    time.sleep(0.05)
            assert status == 200
        finally:
            stop.set()
            thread.join(timeout=30)
            client.delete(ROUTES_KEY)
    assert not thread.is_alive()
    assert not Path(state_dir / "nginx.pid").exists()
    shutil.rmtree(state_dir)


def test_nginx_keeps_serving_when_redis_goes_away(redis_url: str) -> None:
    client: redis.Redis[bytes] = redis.Redis.from_url(redis_url)
    unreachable: redis.Redis[bytes] = redis.Redis.from_url(
        "redis://127.0.0.1:1/0", socket_connect_timeout=0.2
    )
    with running_dynos("web.1") as (dyno,), running_router(client) as router:
        router.publish(AppRoute(app="myapp", backends=(dyno.backend,)))
        assert router.controller is not None
        router.controller.redis = unreachable
        router.controller.refresh()
        assert router.request("myapp.localhost").status == 200
    client.delete(ROUTES_KEY)


def test_a_slow_request_in_flight_during_a_reload_completes(redis_client: redis.Redis[bytes]) -> None:
    with running_dynos("web.1", "web.2") as (one, two), running_router(redis_client) as router:
        router.publish(AppRoute(app="myapp", backends=(one.backend,)))
        answers: list[int] = []
        slow = threading.Thread(
            target=lambda: answers.append(router.request("myapp.localhost", "/sleep?s=2").status)
        )
        slow.start()
        router.wait_until(lambda: one.server.hits == 0 and slow.is_alive())
        time.sleep(0.3)
        router.publish(AppRoute(app="myapp", backends=(two.backend,)))
        assert router.request("myapp.localhost").json()["backend"] == "web.2"
        slow.join()
        assert answers == [200]
        assert one.server.hits == 1


def test_a_change_of_dynos_alone_is_served_without_a_config_check_and_a_new_app_is_checked(
    redis_client: redis.Redis[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_dynos("web.1", "web.2") as dynos, running_router(redis_client) as router:
        assert router.controller is not None
        nginx = router.controller.nginx
        router.publish(AppRoute(app="myapp", backends=(dynos[0].backend,)))
        router.wait_for_backend("myapp.localhost", "web.1")
        checked: list[Path] = []
        real_validate = nginx.validate

        def counted_validate(config: Path) -> None:
            checked.append(config)
            real_validate(config)

        monkeypatch.setattr(nginx, "validate", counted_validate)
        router.publish(AppRoute(app="myapp", backends=(dynos[1].backend,)))
        router.wait_for_backend("myapp.localhost", "web.2")
        assert checked == []

        router.publish(
            AppRoute(app="myapp", backends=(dynos[1].backend,)),
            AppRoute(app="other", backends=(dynos[0].backend,)),
        )
        router.wait_for_backend("other.localhost", "web.1")
        assert len(checked) == 1


def test_idle_resyncs_render_nothing_until_the_table_changes(
    redis_client: redis.Redis[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    from wharf.router import controller as controller_module

    with running_dynos("web.1", "web.2") as dynos, running_router(redis_client) as router:
        assert router.controller is not None
        router.controller.resync_seconds = 0.1
        router.publish(AppRoute(app="myapp", backends=(dynos[0].backend,)))
        renders: list[int] = []
        real_render = render_nginx_config

        def counted_render(table: RouteTable, *args: object, **kwargs: object) -> str:
            renders.append(table.generation)
            return real_render(table, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(controller_module, "render_nginx_config", counted_render)
        time.sleep(1.5)
        assert renders == []
        router.publish(AppRoute(app="myapp", backends=(dynos[1].backend,)))
        router.wait_for_backend("myapp.localhost", "web.2")
        assert renders == [router.generation]
