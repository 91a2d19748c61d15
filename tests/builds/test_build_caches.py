"""Which builder-node cache volumes an installation still has apps for: recorded when a build goes to
a node, taken out when the app is destroyed, so that the nodes' agents remove only those."""

from __future__ import annotations

import secrets
from pathlib import Path

import redis

from wharf.platform.actions.apps import forget_app_leftovers
from wharf.platform.builds import relay_wire as wire
from wharf.platform.builds.build_caches import forget_build_caches, remember_build_cache
from wharf.platform.settings import Settings

KEY = "0123456789abcdef"
OTHER_KEY = "fedcba9876543210"


def _live(client: redis.Redis[bytes], installation: str) -> set[str]:
    return {member.decode() for member in client.smembers(wire.live_caches_key(installation))}


def test_a_cache_volume_is_told_from_one_of_an_app_whose_name_starts_alike() -> None:
    assert wire.is_cache_volume_of(wire.cache_volume("shop", KEY), "shop")
    assert not wire.is_cache_volume_of(wire.cache_volume("shop-eu", KEY), "shop")
    assert not wire.is_cache_volume_of(wire.cache_volume("shop", KEY), "shop-eu")
    assert not wire.is_cache_volume_of(wire.cache_volume("shop", KEY[:-1]), "shop")
    assert not wire.is_cache_volume_of("wharf-build-cache-shop-" + KEY + "-x", "shop")


def test_forgetting_an_app_takes_out_its_caches_only_and_tells_the_agents(
    redis_client: redis.Redis[bytes],
) -> None:
    installation, elsewhere = secrets.token_hex(8), secrets.token_hex(8)
    remember_build_cache(redis_client, installation=installation, app="shop", cache_key=KEY)
    # The same name again after a destroy that predates this record, and an app whose name starts alike.
    remember_build_cache(redis_client, installation=installation, app="shop", cache_key=OTHER_KEY)
    remember_build_cache(redis_client, installation=installation, app="shop-eu", cache_key=KEY)
    remember_build_cache(redis_client, installation=elsewhere, app="shop", cache_key=KEY)
    pubsub = redis_client.pubsub()
    pubsub.subscribe(wire.caches_forgotten_channel(installation))
    assert pubsub.get_message(timeout=1) is not None  # the subscription itself

    gone = forget_build_caches(redis_client, installation=installation, app="shop")

    assert sorted(gone) == sorted([wire.cache_volume("shop", KEY), wire.cache_volume("shop", OTHER_KEY)])
    assert _live(redis_client, installation) == {wire.LIVE_CACHES_MARK, wire.cache_volume("shop-eu", KEY)}
    assert _live(redis_client, elsewhere) == {wire.LIVE_CACHES_MARK, wire.cache_volume("shop", KEY)}
    told = pubsub.get_message(timeout=2)
    assert told is not None and told["data"] == b"2"
    # Nothing left to forget: the agents are not told again.
    assert forget_build_caches(redis_client, installation=installation, app="shop") == []
    assert pubsub.get_message(timeout=0.5) is None
    pubsub.close()


def test_destroying_an_app_or_creating_one_of_a_former_name_forgets_its_node_caches(
    redis_client: redis.Redis[bytes], tmp_path: Path
) -> None:
    settings = Settings(wharf_data_dir=tmp_path)
    installation = settings.installation_id
    remember_build_cache(redis_client, installation=installation, app="shop", cache_key=KEY)
    remember_build_cache(redis_client, installation=installation, app="blog", cache_key=KEY)

    forget_app_leftovers(client=redis_client, settings=settings, app_name="shop")

    assert _live(redis_client, installation) == {wire.LIVE_CACHES_MARK, wire.cache_volume("blog", KEY)}
