"""The runtime `wharfd cluster init` chose is read back from the data dir by settings, unless
WHARF_RUNTIME names one; a choice this Wharf has no runtime for leaves the default, so start-up goes on."""

from __future__ import annotations

from pathlib import Path

import pytest

from wharf.platform.cluster.state import save_cluster_choice
from wharf.platform.settings import Settings, runtime_chosen_in_data_dir, with_runtime_from_data_dir


def _chosen(path: Path, runtime: str) -> None:
    save_cluster_choice(path, node_id="n1", swarm_id="s1")
    path.write_text(path.read_text().replace('"swarm"', f'"{runtime}"'))


def test_without_a_cluster_choice_settings_keep_their_runtime(tmp_path: Path) -> None:
    settings = Settings(wharf_data_dir=tmp_path)
    assert runtime_chosen_in_data_dir(settings) is None
    assert with_runtime_from_data_dir(settings).wharf_runtime == "docker"


def test_the_choice_is_written_private_and_read_back(tmp_path: Path) -> None:
    settings = Settings(wharf_data_dir=tmp_path / "data")
    save_cluster_choice(settings.cluster_state_path, node_id="n1", swarm_id="s1")
    assert runtime_chosen_in_data_dir(settings) == "swarm"
    assert settings.cluster_state_path.stat().st_mode & 0o077 == 0


def test_a_runtime_the_data_dir_chose_is_used_unless_the_environment_names_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WHARF_RUNTIME", raising=False)
    settings = Settings(wharf_data_dir=tmp_path)
    _chosen(settings.cluster_state_path, "fake")
    assert with_runtime_from_data_dir(settings).wharf_runtime == "fake"
    monkeypatch.setenv("WHARF_RUNTIME", "docker")
    assert with_runtime_from_data_dir(Settings(wharf_data_dir=tmp_path)).wharf_runtime == "docker"


def test_a_choice_this_wharf_has_no_runtime_for_leaves_the_default(tmp_path: Path) -> None:
    settings = Settings(wharf_data_dir=tmp_path)
    _chosen(settings.cluster_state_path, "no-such-runtime")
    assert with_runtime_from_data_dir(settings).wharf_runtime == "docker"


def test_the_registry_cluster_init_started_is_used_unless_the_environment_names_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WHARF_REGISTRY", raising=False)
    settings = Settings(wharf_data_dir=tmp_path)
    save_cluster_choice(settings.cluster_state_path, node_id="n1", swarm_id="s1", registry="10.0.0.5:5443")
    assert with_runtime_from_data_dir(settings).wharf_registry == "10.0.0.5:5443"
    monkeypatch.setenv("WHARF_REGISTRY", "10.0.0.6:5443")
    assert with_runtime_from_data_dir(Settings(wharf_data_dir=tmp_path)).wharf_registry == "10.0.0.6:5443"
