"""Redis lost a half of the route table (the key deleted, or Redis emptied): the scheduler's next pass
writes every app's dynos whole again, and the API every app's routing settings, from the database, not
only those of the apps that changed since."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tests.scheduler.test_reconciler import deployed_app
from tests.utils.scheduler_world import World
from wharf.platform.actions.domains import rewrite_lost_app_routes
from wharf.platform.db import session_scope
from wharf.platform.routing import APP_ROUTES_KEY, BACKENDS_KEY, half_is_whole
from wharf.platform.settings import Settings
from wharf.router.routes import ROUTES_KEY, load_routes


def test_a_pass_writes_every_apps_dynos_again_after_redis_lost_them(world: World) -> None:
    first, second = deployed_app(world), deployed_app(world)
    world.scale(first, web=2)
    world.converge(lambda: world.backends(first) == ["web.1", "web.2"])
    assert half_is_whole(world.redis, BACKENDS_KEY)

    world.redis.delete(BACKENDS_KEY)
    world.scheduler.reconcile_once()

    assert half_is_whole(world.redis, BACKENDS_KEY)
    assert world.backends(first) == ["web.1", "web.2"]
    assert world.backends(second) == ["web.1"]


def test_the_api_writes_every_apps_routing_again_after_redis_lost_it(world: World) -> None:
    first, second = world.new_app(), world.new_app()
    settings = Settings(wharf_runtime="fake")

    def rewrite(session: Session) -> bool:
        return rewrite_lost_app_routes(session=session, client=world.redis, settings=settings)

    with session_scope(world.database_url) as session:
        rewrite(session)
        assert not rewrite(session), "whole and published: nothing to write"
        world.redis.delete(APP_ROUTES_KEY)
        assert rewrite(session)
        assert half_is_whole(world.redis, APP_ROUTES_KEY)
        world.redis.delete(ROUTES_KEY)
        assert rewrite(session), "the published table lost alone is published again"
    assert {first, second} <= {route.app for route in load_routes(world.redis).apps}
