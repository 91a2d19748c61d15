"""Add-ons under WHARF_RUNTIME=swarm: made on the manager's engine, on the app's attachable overlay network
even when the add-on comes before the app's first dyno, so the app's dynos reach it by name."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import cast

import pytest

from tests.utils.busybox_dynos import TEST_IMAGE, Apps, make_spec
from tests.utils.test_host import DockerTestHost
from wharf.platform.addons import build_addon_providers
from wharf.platform.addons.docker_provider import DockerAddonProvider
from wharf.platform.runtime.swarm_runtime import SwarmRuntime
from wharf.platform.settings import Settings

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]

ASK_THE_ADDON = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {host} 5432"


def test_an_addon_made_before_any_dyno_is_on_the_overlay_its_dynos_reach_it_on(
    swarm_host: DockerTestHost,
    swarm_runtime: SwarmRuntime,
    swarm_apps: Apps,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCKER_HOST", swarm_host.docker_host)
    providers = build_addon_providers(Settings(wharf_runtime="swarm", wharf_data_dir=tmp_path))
    provider = cast(DockerAddonProvider, providers.for_kind("postgres"))
    app = f"rt-{secrets.token_hex(4)}"
    swarm_apps.names.append(app)  # its dynos and network are removed afterwards
    client = swarm_host.client()
    # A stand-in server where the add-on's container would be: the manager's engine, the add-on's network.
    addon = client.containers.run(
        TEST_IMAGE,
        ["busybox", "httpd", "-f", "-p", "5432", "-h", "/www"],
        name=f"addon-{app}",
        network=provider.ensure_app_network(app),
        user="1000:1000",
        detach=True,
    )
    try:
        network = client.networks.get(f"wharf-app-{app}").attrs
        said: list[bytes] = []
        code = swarm_runtime.run_oneoff(
            make_spec(app, ASK_THE_ADDON.format(host=f"addon-{app}"), process_type="run"),
            on_output=said.append,
            timeout=60,
        )
    finally:
        addon.remove(force=True)
        client.close()

    assert (network["Driver"], network["Scope"], network["Attachable"]) == ("overlay", "swarm", True)
    answer = b"".join(said).decode(errors="replace")
    assert code == 0, answer
    assert " 200 OK" in answer and "wharf test dyno" in answer
