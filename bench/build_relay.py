"""A buildpack compile relayed to a builder node's agent through Redis, against the same compile on
this host's engine, in one run.

Usage: .venv/bin/python -m bench.build_relay [--rounds 3] [--fixture python_requirements]
       (Docker, the stack images, redis-server)

Both run on this machine's engine with the real buildpacks and build image; the relayed one goes
through the agent's build host (on a thread, as in the agent) and a private redis-server, as a build
on a builder node does: the workspace sent as a tar, the output relayed, the built app sent back and
unpacked. Each kind compiles the fixture once to fill its cache (on this host: the cache folder;
relayed: the node's cache volume), then --rounds warm compiles, whose median is printed with the
relayed figure against the direct one, and the bytes the relay carried each way.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import docker

from bench._scheduler_bench import private_redis
from tests.utils.build_hosts import serving_build_host
from tests.utils.buildpack_builds import BUILDPACKS_DIR, FIXTURES, require_stack_images
from wharf.platform.builds import relay_wire as wire
from wharf.platform.builds.builder_nodes import BuilderNode
from wharf.platform.builds.compile import BuildLimits, CompileRequest, CompileResult, compile_slug
from wharf.platform.builds.relayed_compile import RelayedCompiler
from wharf.platform.stack import DEFAULT_BUILD_IMAGE

Compile = Callable[[CompileRequest], CompileResult]


def _request(fixture: str, scratch: Path, kind: str) -> CompileRequest:
    return CompileRequest(
        source_dir=FIXTURES / fixture,
        cache_dir=scratch / f"cache-{kind}",
        work_dir=scratch / f"work-{kind}-{secrets.token_hex(3)}",
        env={},
        build_image=DEFAULT_BUILD_IMAGE,
        buildpacks_dir=BUILDPACKS_DIR,
        limits=BuildLimits(timeout_seconds=600),
        pack_slug=False,
    )


def _timed(compile_one: Compile, request: CompileRequest) -> float:
    began = time.perf_counter()
    compile_one(request)
    return time.perf_counter() - began


def _tree_bytes(root: Path) -> int:
    return sum(path.lstat().st_size for path in root.rglob("*") if path.is_file() and not path.is_symlink())


def _compare(fixture: str, rounds: int, scratch: Path, compiler: RelayedCompiler) -> None:
    kinds: dict[str, Compile] = {
        "direct": lambda request: compile_slug(request, on_output=lambda _line: None),
        "relayed": lambda request: compiler(request, on_output=lambda _line: None),
    }
    medians: dict[str, float] = {}
    for kind, compile_one in kinds.items():
        compile_one(_request(fixture, scratch, kind))
        timed = [_timed(compile_one, _request(fixture, scratch, kind)) for _ in range(rounds)]
        medians[kind] = statistics.median(timed)
        shown = ", ".join(f"{seconds:.2f}" for seconds in timed)
        print(f"{kind:8s} warm compile of {fixture}: median {medians[kind]:.2f} s ({shown})")
    last = _request(fixture, scratch, "sizes")
    compiler(last, on_output=lambda _line: None)
    print(f"relayed / direct: {medians['relayed'] / medians['direct']:.2f}")
    print(f"built app sent back: {_tree_bytes(last.work_dir / 'app') / 1e6:.1f} MB of files")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fixture", default="python_requirements")
    args = parser.parse_args()
    require_stack_images()
    app = f"bench{secrets.token_hex(3)}"
    cache_key = secrets.token_hex(8)
    node_id = secrets.token_hex(12)
    with (
        tempfile.TemporaryDirectory(prefix="wharf-bench-build-relay-") as directory,
        private_redis(Path(directory)),
    ):
        redis_url = f"unix://{Path(directory) / 'redis.sock'}"
        try:
            with serving_build_host(redis_url, node_id):
                node = BuilderNode(id=node_id, name="bench", memory_free=0)
                compiler = RelayedCompiler(
                    installation=secrets.token_hex(8),
                    app=app,
                    cache_key=cache_key,
                    node=node,
                    redis_url=redis_url,
                    image=DEFAULT_BUILD_IMAGE,
                )
                _compare(args.fixture, args.rounds, Path(directory), compiler)
        finally:
            engine = docker.from_env()
            for volume in engine.volumes.list(filters={"name": wire.cache_volume(app, cache_key)}):
                volume.remove(force=True)
            engine.close()


if __name__ == "__main__":
    main()
