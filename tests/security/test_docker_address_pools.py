"""The installer's daemon.json merge on scratch files: room for thousands of networks, nothing clobbered."""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
from pathlib import Path

from tests.utils.network import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "lib" / "docker_address_pools.py"


def configure(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), str(path)], capture_output=True, text=True)


def networks_that_fit(pools: list[dict[str, object]]) -> int:
    return sum(
        2 ** (int(str(pool["size"])) - ipaddress.ip_network(str(pool["base"])).prefixlen) for pool in pools
    )


def test_a_missing_daemon_json_gets_pools_for_thousands_of_networks(tmp_path: Path) -> None:
    path = tmp_path / "docker" / "daemon.json"
    assert configure(path).stdout.strip() == "changed"
    pools = json.loads(path.read_text())["default-address-pools"]
    assert networks_that_fit(pools) >= 2000
    assert configure(path).stdout.strip() == "unchanged"


def test_an_existing_daemon_json_keeps_its_settings(tmp_path: Path) -> None:
    path = tmp_path / "daemon.json"
    path.write_text(
        json.dumps({"log-driver": "json-file", "log-opts": {"max-size": "10m"}, "bip": "172.31.0.1/16"})
    )
    assert configure(path).stdout.strip() == "changed"
    merged = json.loads(path.read_text())
    assert merged["log-opts"] == {"max-size": "10m"} and merged["bip"] == "172.31.0.1/16"
    assert networks_that_fit(merged["default-address-pools"]) >= 2000


def test_pools_an_operator_chose_are_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "daemon.json"
    own = {"default-address-pools": [{"base": "192.168.0.0/16", "size": 24}]}
    path.write_text(json.dumps(own))
    assert configure(path).stdout.strip() == "unchanged"
    assert json.loads(path.read_text()) == own


def test_a_broken_daemon_json_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "daemon.json"
    path.write_text('{"log-driver": ')
    answer = configure(path)
    assert answer.returncode != 0 and "not valid JSON" in answer.stderr
    assert path.read_text() == '{"log-driver": '
