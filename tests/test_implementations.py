"""Choosing an implementation by name: every registered name resolves, an unknown one lists the valid ones."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from wharf.platform.addons import AddonProviders, build_addon_providers
from wharf.platform.app_manifest import EMPTY
from wharf.platform.implementations import FAMILIES, UnknownImplementation, choose, names
from wharf.platform.runtime import RUNTIME_NAMES, Runtime, get_runtime
from wharf.platform.runtime.fake import FakeRuntime
from wharf.platform.settings import Settings


@pytest.mark.parametrize(
    ("family", "name"), [(family, name) for family, table in FAMILIES.items() for name in table]
)
def test_every_registered_name_resolves_to_a_callable(family: str, name: str) -> None:
    assert callable(choose(family, name))


def test_an_unknown_name_lists_the_valid_names() -> None:
    with pytest.raises(
        UnknownImplementation, match=r"unknown runtime 'kubernetes': choose one of docker, fake, swarm"
    ):
        choose("runtime", "kubernetes")
    with pytest.raises(
        UnknownImplementation, match=r"unknown addon providers 'rds': choose one of docker, fake, swarm"
    ):
        choose("addon_providers", "rds")


def test_an_unknown_family_lists_the_families() -> None:
    with pytest.raises(
        UnknownImplementation,
        match=(
            r"'scheduler': choose one of addon_providers, dyno_log_shipper, image_tagger, release_manifest, "
            r"runtime$"
        ),
    ):
        names("scheduler")


@pytest.mark.parametrize(
    "family", ["addon_providers", "dyno_log_shipper", "image_tagger", "release_manifest"]
)
def test_every_runtime_name_chooses_in_each_family_keyed_by_it(family: str) -> None:
    assert names(family) == names("runtime")


def test_fake_dynos_need_no_shipper_and_no_health_check() -> None:
    assert choose("dyno_log_shipper", "fake")(object(), installation="x") is None
    assert choose("release_manifest", "fake")("wharf/app:v1") == EMPTY


def test_an_unknown_name_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="docker, fake"):
        get_runtime("kubernetes")


def test_runtime_names_come_from_the_table() -> None:
    assert RUNTIME_NAMES == names("runtime") == ("docker", "fake", "swarm")


def test_the_fake_runtime_is_chosen_by_name() -> None:
    runtime = choose("runtime", "fake")(installation="ignored")
    assert isinstance(runtime, FakeRuntime) and isinstance(runtime, Runtime)


def test_the_fake_addon_providers_are_chosen_by_the_runtime_setting(tmp_path: Path) -> None:
    providers = build_addon_providers(Settings(wharf_runtime="fake", wharf_data_dir=tmp_path))
    assert isinstance(providers, AddonProviders)
    assert type(providers.for_kind("postgres")).__name__ == "FakeAddonProvider"


def test_choosing_fake_imports_no_docker_code() -> None:
    script = (
        "import sys\n"
        "from wharf.platform.implementations import choose\n"
        "from wharf.platform.settings import Settings\n"
        "choose('runtime', 'fake')()\n"
        "choose('addon_providers', 'fake')(Settings(wharf_runtime='fake'))\n"
        "print(sorted(m for m in sys.modules if 'docker' in m))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True)
    assert done.stdout.strip() == "[]"
