"""Background work on rq: the build queue, with one typed enqueue helper per job.

rq is imported when a job is enqueued, not when this module is: the processes that only name the
queues (the build worker dispatcher, the API at start-up) stay small.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import redis
    from rq import Queue
    from rq.job import Job

BUILD_QUEUE = "builds"
ALL_QUEUES = (BUILD_QUEUE,)
# The Redis list rq keeps each queue's waiting job ids in.
QUEUE_KEY_PREFIX = "rq:queue:"
# A test run gets the operator's test time limit plus this, for its add-ons and clean-up.
TEST_RUN_MARGIN = 10 * 60
# A build has 15 minutes in its builder container; the rest covers the release image and clean-up.
BUILD_JOB_TIMEOUT = 25 * 60


def queue_key(name: str) -> str:
    return f"{QUEUE_KEY_PREFIX}{name}"


def queue(connection: redis.Redis[bytes], name: str) -> Queue:
    from rq import Queue

    return Queue(name, connection=connection)


def build_job_id(build_id: int) -> str:
    return f"build-{build_id}"


def enqueue_build(
    connection: redis.Redis[bytes], *, build_id: int, skip_tests: bool = False, test_seconds: float = 0
) -> Job:
    """TEST_SECONDS: the operator's test time limit, which the job's own limit leaves room for."""
    return queue(connection, BUILD_QUEUE).enqueue(
        "wharf.platform.builds.pipeline.run_build",
        build_id=build_id,
        skip_tests=skip_tests,
        job_timeout=BUILD_JOB_TIMEOUT + int(test_seconds) + TEST_RUN_MARGIN,
        job_id=build_job_id(build_id),
    )


def rerun_job_id(test_run_id: int) -> str:
    return f"test-run-{test_run_id}"


def enqueue_test_rerun(connection: redis.Redis[bytes], *, test_run_id: int, timeout: int) -> Job:
    return queue(connection, BUILD_QUEUE).enqueue(
        "wharf.platform.testphase.phase.run_test_rerun",
        test_run_id=test_run_id,
        job_timeout=timeout,
        job_id=rerun_job_id(test_run_id),
    )


# A destroyed app's dynos are retired by the scheduler (drained, then stopped); its images go after.
IMAGE_REMOVAL_TIMEOUT = 10 * 60


def enqueue_image_removal(connection: redis.Redis[bytes], *, app_name: str) -> Job:
    """Remove a destroyed app's release and dependency images, once no container uses them."""
    return queue(connection, BUILD_QUEUE).enqueue(
        "wharf.platform.builds.cleanup.remove_destroyed_app_images",
        app_name=app_name,
        destroyed_at=datetime.now(UTC).isoformat(),
        job_timeout=IMAGE_REMOVAL_TIMEOUT,
    )
