"""Where a buildpack build's compile step runs: on a builder node of the swarm when one can take it,
else on this host (the manager), as without a swarm."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import docker
import docker.errors
import redis

from wharf.platform.builds.builder_claims import claim_builder_node, release_claim
from wharf.platform.builds.compile import BuildLimits, Compiler
from wharf.platform.builds.relayed_compile import RelayedCompiler
from wharf.platform.settings import Settings

OutputCallback = Callable[[str], None]


def compiler_for(
    settings: Settings, app_name: str, cache_key: str, limits: BuildLimits, on_output: OutputCallback
) -> Compiler | None:
    """A compiler for APP_NAME's build on a builder node, or None to compile on this host: not on a
    swarm with a registry, no node labelled `wharf.role=builder`, or none of them able to take it.
    The build's memory is claimed on the node chosen until the compiler has run."""
    if settings.wharf_runtime != "swarm" or not settings.wharf_registry:
        return None
    from wharf.platform.registry.api import RegistryError
    from wharf.platform.registry.release_images import release_images_for

    client = docker.from_env()
    redis_client = redis.Redis.from_url(settings.resolved_redis_url)
    installation = settings.installation_id
    claim = None
    try:
        choice, claim = claim_builder_node(
            client, redis_client, installation, limits.memory_bytes, limits.timeout_seconds
        )
        if choice.node is None or claim is None:
            if choice.passed_over:
                on_output(f"-----> No builder node can take this build ({choice.passed_over})")
                on_output("       Building on the manager")
            return None
        images = release_images_for(client, settings.wharf_registry, settings.wharf_data_dir)
        image = images.reference(
            settings.wharf_build_image,
            on_output=lambda line: on_output("       " + line),
            announce="Pushing the build image to the registry, once, for the builder nodes",
        )
    except (docker.errors.DockerException, redis.RedisError, RegistryError) as error:
        on_output(f" !     Builder nodes are out of reach ({error}); building on the manager")
        if claim is not None:
            with contextlib.suppress(redis.RedisError):
                release_claim(redis_client, installation, claim)
        return None
    finally:
        client.close()
        redis_client.close()
    return RelayedCompiler(
        installation=installation,
        claim=claim,
        app=app_name,
        cache_key=cache_key,
        node=choice.node,
        redis_url=settings.resolved_redis_url,
        image=image,
    )
