"""Deploy of an already-built release to serving, minus the app's own boot time (same run).

Run: .venv/bin/python -m bench.deploy  (needs Docker and busybox-static)
"""

from __future__ import annotations

import time

from bench._scheduler_bench import scheduler_world
from bench.busybox_image import TEST_IMAGE, WEB, http_get, make_spec


def main() -> None:
    with scheduler_world() as world:
        app = world.new_app()
        world.release(app, {"web": WEB}, image=TEST_IMAGE)
        assert world.deploy(app)[0] == "succeeded"

        started = time.monotonic()
        dyno = world.runtime.start_dyno(make_spec(app, WEB, number=5, release=99))
        fresh = world.runtime.get_dyno(dyno.id)
        assert fresh.address is not None
        http_get(fresh.address)
        boot = time.monotonic() - started
        world.runtime.remove_dyno(dyno.id)

        version = world.release(app, {"web": WEB}, image=TEST_IMAGE, config={"DEPLOY": "2"})
        started = time.monotonic()
        world.scheduler.reconcile_once()
        while world.app_row(app)[0] != version:
            time.sleep(0.01)
        http_get(world.backend_addresses(app)[0])
        deploy = time.monotonic() - started
        world.scheduler.wait_for_deploys()
    print(f"deploy to serving: {deploy:.2f} s; the app's boot alone: {boot:.2f} s")
    print(f"deploy overhead beyond boot: {deploy - boot:.2f} s (ratio {deploy / boot:.2f})")


if __name__ == "__main__":
    main()
