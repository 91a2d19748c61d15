"""One way to pick an implementation by name, as Dokku picks a scheduler plugin.

Each family (what is being chosen) maps names (what a setting says) to a factory written
"module:attribute". The module is imported only when its name is chosen, so choosing "fake" never
imports the Docker SDK. Callers ask choose() for a factory instead of branching on a setting
themselves.

"swarm" chooses Swarm services for dynos; its other families are the Docker ones, on the manager's own
engine (add-ons, builds and release images live on the manager; see docs/cluster.md), the add-ons on
the apps' attachable overlay networks, except dyno log shipping, which the node agent of every node does
(wharf.platform.cluster.node_agent).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping

FAMILIES: Mapping[str, Mapping[str, str]] = {
    "runtime": {
        "docker": "wharf.platform.runtime.docker_runtime:docker_runtime",
        "fake": "wharf.platform.runtime.fake:fake_runtime",
        "swarm": "wharf.platform.runtime.swarm_runtime:swarm_runtime",
    },
    "addon_providers": {
        "docker": "wharf.platform.addons.docker_provider:docker_addon_providers",
        "fake": "wharf.platform.addons.fake:fake_addon_providers",
        "swarm": "wharf.platform.addons.docker_provider:swarm_addon_providers",
    },
    # What carries dyno output into the app logs: `factory(writer, installation=...)`, or None.
    "dyno_log_shipper": {
        "docker": "wharf.platform.logs.shipper:docker_log_shipper",
        "fake": "wharf.platform.logs.shipper:no_log_shipper",
        "swarm": "wharf.platform.logs.shipper:node_agents_ship",
    },
    # Another name for a release image, for promotion: `factory()` -> tag(source, repository, tag) -> id.
    "image_tagger": {
        "docker": "wharf.platform.builds.image_tags:docker_image_tagger",
        "fake": "wharf.platform.builds.image_tags:fake_image_tagger",
        "swarm": "wharf.platform.builds.image_tags:docker_image_tagger",
    },
    # A release image's app.json (health checks, first formation, postdeploy): `factory(image)`.
    "release_manifest": {
        "docker": "wharf.platform.scheduler.appjson:docker_manifest",
        "fake": "wharf.platform.scheduler.appjson:no_manifest",
        "swarm": "wharf.platform.scheduler.appjson:docker_manifest",
    },
}


class UnknownImplementation(ValueError):
    """A family or a name that the table does not hold; the message lists the valid ones."""


def names(family: str) -> tuple[str, ...]:
    """The names a family can be chosen by, sorted."""
    try:
        return tuple(sorted(FAMILIES[family]))
    except KeyError:
        raise UnknownImplementation(
            f"unknown implementation family {family!r}: choose one of {', '.join(sorted(FAMILIES))}"
        ) from None


def choose(family: str, name: str) -> Callable[..., object]:
    """The factory registered under `name` in `family`, imported now.

    This module imports none of the implementations it names, so that every part can use it; the
    caller checks that what the factory built is what it asked for.
    """
    valid = names(family)
    if name not in valid:
        label = family.replace("_", " ")
        raise UnknownImplementation(f"unknown {label} {name!r}: choose one of {', '.join(valid)}")
    module_name, _, attribute = FAMILIES[family][name].partition(":")
    factory: Callable[..., object] = getattr(importlib.import_module(module_name), attribute)
    return factory
