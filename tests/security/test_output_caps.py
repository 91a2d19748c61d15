"""A tenant printing without bound (a 100 MB line, millions of lines) grows neither Redis nor a worker."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

import redis

from wharf.platform.builds.output import BuildOutput
from wharf.platform.logs.docker_follow import split_frames
from wharf.platform.logs.stream import LogWriter, recent_lines
from wharf.platform.progress import (
    MAX_STREAM_ENTRIES,
    BuildEnd,
    DeployOutput,
    follow,
    follow_deploy,
    stream_key,
)
from wharf.platform.textlines import MAX_LINE_CHARS, LineSplitter, split_capped_lines

HUNDRED_MB = 100 * 1024 * 1024
CHUNK = 64 * 1024


def hundred_mb_line() -> Iterator[bytes]:
    """What a builder container's log stream delivers for `head -c 100M /dev/zero | tr '\\0' x; echo`."""
    for _ in range(HUNDRED_MB // CHUNK):
        yield b"x" * CHUNK
    yield b"\nnext line\n"


def used_memory(client: redis.Redis[bytes]) -> int:
    return int(client.info("memory")["used_memory"])


def test_a_100_mb_build_line_is_cut_in_bounded_memory_and_redis_stays_small(
    redis_client: redis.Redis[bytes],
) -> None:
    before = used_memory(redis_client)
    output = BuildOutput(redis_client, 4242)
    tracemalloc.start()
    for line in split_capped_lines(hundred_mb_line()):
        output.write(line)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    output.finish(BuildEnd(status="failed", release_version=None, message="The build failed."))
    assert peak < 5 * 1024 * 1024, f"splitting the line held {peak} bytes"
    assert used_memory(redis_client) - before < 2 * 1024 * 1024
    followed = list(follow(redis_client, 4242, idle_timeout=1))
    first, second, end = followed
    assert isinstance(first, str) and first.startswith("x" * MAX_LINE_CHARS)
    assert f"{HUNDRED_MB - MAX_LINE_CHARS} more characters dropped" in first
    assert second == "next line"
    assert isinstance(end, BuildEnd) and end.status == "failed"
    assert output.lines[0].count("x") == MAX_LINE_CHARS


def test_build_output_of_millions_of_lines_keeps_the_stream_and_the_record_bounded(
    redis_client: redis.Redis[bytes],
) -> None:
    output = BuildOutput(redis_client, 77)
    total = MAX_STREAM_ENTRIES * 3
    for n in range(total):
        output.write(f"line {n}")
    output.finish(BuildEnd(status="succeeded", release_version=2, message="Released v2"))
    assert redis_client.xlen(stream_key(77)) <= MAX_STREAM_ENTRIES + 200
    followed = list(follow(redis_client, 77, idle_timeout=1))
    assert followed[-2] == f"line {total - 1}"
    assert isinstance(followed[-1], BuildEnd) and followed[-1].release_version == 2
    assert output.lines[0] == f" !     {total - MAX_STREAM_ENTRIES} earlier lines of output were dropped"
    assert len(output.lines) == MAX_STREAM_ENTRIES + 1


def test_a_release_phase_line_of_100_mb_reaches_the_push_cut(redis_client: redis.Redis[bytes]) -> None:
    deploy = DeployOutput(redis_client, "shop", 3)
    splitter = LineSplitter()
    for chunk in hundred_mb_line():
        for line in splitter.feed(chunk):
            deploy.write("       " + line)
    deploy.finish("succeeded", "Deployed v3")
    lines = list(follow_deploy(redis_client, "shop", 3, idle_timeout=1))
    assert isinstance(lines[0], str) and len(lines[0]) < MAX_LINE_CHARS + 100
    assert lines[1] == "       next line"


def test_a_dyno_printing_a_100_mb_line_ships_one_cut_line(redis_client: redis.Redis[bytes]) -> None:
    # Docker splits long lines into 16 KiB frames, each `<timestamp> <text>`.
    ts = "2026-11-27T18:00:00.000000001Z"
    frames = (f"{ts} {'y' * 16384}".encode() for _ in range(HUNDRED_MB // 16384))
    tracemalloc.start()
    lines = list(split_frames([*frames, f"{ts} end\n".encode(), f"{ts} after\n".encode()]))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert [len(lines), lines[1].text] == [2, "after"]
    assert lines[0].text.startswith("y" * MAX_LINE_CHARS) and "more characters dropped" in lines[0].text
    writer = LogWriter(redis_client)
    writer.write("shop", source="app", dyno="web.1", line="z" * HUNDRED_MB)
    stored = recent_lines(redis_client, "shop", num=1)[0].line
    assert len(stored) < MAX_LINE_CHARS + 100 and stored.endswith("more characters dropped]")
    del peak
