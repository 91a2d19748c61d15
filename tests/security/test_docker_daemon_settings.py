"""The installer's daemon.json merge on scratch files: live-restore, log rotation and room for thousands of
networks, nothing of the operator's clobbered, the old file kept, a broken file refused untouched."""

from __future__ import annotations

import configparser
import ipaddress
import json
import subprocess
import sys
from pathlib import Path

from tests.utils.network import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "lib" / "docker_daemon_settings.py"
UNIT = REPO_ROOT / "deploy" / "systemd" / "wharf.service"


def configure(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), str(path)], capture_output=True, text=True)


def networks_that_fit(pools: list[dict[str, object]]) -> int:
    return sum(
        2 ** (int(str(pool["size"])) - ipaddress.ip_network(str(pool["base"])).prefixlen) for pool in pools
    )


def backups(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.wharf-backup-*"))


def test_a_missing_daemon_json_gets_every_setting_wharf_needs(tmp_path: Path) -> None:
    path = tmp_path / "docker" / "daemon.json"
    answer = configure(path)
    assert answer.returncode == 0 and answer.stdout.strip() == "changed"
    written = json.loads(path.read_text())
    assert written["live-restore"] is True
    assert written["log-driver"] == "json-file"
    assert written["log-opts"] == {"max-size": "10m", "max-file": "3"}
    assert networks_that_fit(written["default-address-pools"]) >= 2000
    for name in ("live-restore", "log-driver", "log-opts", "default-address-pools"):
        assert name in answer.stderr, f"the installer did not say it set {name}"
    assert backups(path) == [], "there was no file to back up"
    again = configure(path)
    assert again.stdout.strip() == "unchanged"
    assert json.loads(path.read_text()) == written and backups(path) == []


def test_an_operators_own_keys_are_kept_and_the_old_file_backed_up(tmp_path: Path) -> None:
    path = tmp_path / "daemon.json"
    own = {"log-opts": {"max-size": "50m", "labels": "team"}, "bip": "172.31.0.1/16", "debug": True}
    path.write_text(json.dumps(own))
    assert configure(path).stdout.strip() == "changed"
    merged = json.loads(path.read_text())
    assert merged["bip"] == "172.31.0.1/16" and merged["debug"] is True
    assert merged["log-opts"] == {"max-size": "50m", "labels": "team", "max-file": "3"}
    assert merged["log-driver"] == "json-file" and merged["live-restore"] is True
    assert networks_that_fit(merged["default-address-pools"]) >= 2000
    saved = backups(path)
    assert len(saved) == 1 and json.loads(saved[0].read_text()) == own


def test_choices_an_operator_made_are_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "daemon.json"
    own = {
        "live-restore": False,
        "log-driver": "json-file",
        "log-opts": {"max-size": "1g", "max-file": "9"},
        "default-address-pools": [{"base": "192.168.0.0/16", "size": 24}],
    }
    path.write_text(json.dumps(own))
    answer = configure(path)
    assert answer.stdout.strip() == "unchanged"
    assert json.loads(path.read_text()) == own and backups(path) == []
    assert "live-restore is false" in answer.stderr, "a dyno-stopping choice is kept but pointed out"


def test_another_log_driver_keeps_its_options(tmp_path: Path) -> None:
    """journald knows no max-size: adding it would stop dockerd from starting."""
    path = tmp_path / "daemon.json"
    path.write_text(json.dumps({"log-driver": "journald", "log-opts": {"tag": "{{.Name}}"}}))
    answer = configure(path)
    assert answer.stdout.strip() == "changed"
    merged = json.loads(path.read_text())
    assert merged["log-driver"] == "journald" and merged["log-opts"] == {"tag": "{{.Name}}"}
    assert merged["live-restore"] is True
    assert "journald (yours, kept)" in answer.stderr


def test_a_broken_daemon_json_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    for broken, says in (('{"log-driver": ', "not valid JSON"), ("[1, 2]", "must hold a JSON object")):
        path = tmp_path / "daemon.json"
        path.write_text(broken)
        answer = configure(path)
        assert answer.returncode == 1 and says in answer.stderr and "fix it" in answer.stderr
        assert answer.stdout == "" and path.read_text() == broken and backups(path) == []


def test_log_opts_that_are_not_an_object_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "daemon.json"
    path.write_text('{"log-opts": "max-size=10m"}')
    answer = configure(path)
    assert answer.returncode == 1 and "log-opts must be a JSON object" in answer.stderr
    assert path.read_text() == '{"log-opts": "max-size=10m"}'


def test_the_systemd_unit_runs_wharfd_up_restarted_on_failure_after_docker() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read_string(UNIT.read_text())
    assert unit["Service"]["ExecStart"].split() == ["/usr/local/bin/wharfd", "up"]
    assert unit["Service"]["Restart"] == "on-failure"
    assert "docker.service" in unit["Unit"]["After"].split()
    # Stopping the unit must leave the router's nginx, and so the apps, serving.
    assert unit["Service"]["KillMode"] == "process"
    assert unit["Install"]["WantedBy"] == "multi-user.target"
