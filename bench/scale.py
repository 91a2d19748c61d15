"""`ps:scale web=1` -> `web=10` until all ten answer, against starting ten dynos by hand (same run).

Run: .venv/bin/python -m bench.scale  (needs Docker and busybox-static)
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
        world.scale(app, web=10)
        world.converge(lambda: len(world.backends(app)) == 10, timeout=60)
        for address in world.backend_addresses(app):
            http_get(address)
        scaled = time.monotonic() - started

        started = time.monotonic()
        by_hand = [world.runtime.start_dyno(make_spec(app, WEB, number=n, release=99)) for n in range(11, 21)]
        for dyno in by_hand:
            fresh = world.runtime.get_dyno(dyno.id)
            assert fresh.address is not None
            http_get(fresh.address)
        baseline = time.monotonic() - started
        for dyno in by_hand:
            world.runtime.remove_dyno(dyno.id)
    print(f"scale web=1 -> web=10, all answering: {scaled:.2f} s")
    print(f"baseline, ten dynos started one by one by hand: {baseline:.2f} s")
    print(f"ratio scheduler/baseline: {scaled / baseline:.2f}")


if __name__ == "__main__":
    main()
