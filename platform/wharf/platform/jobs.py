"""Background work on rq: queues for builds and deploys, with one typed enqueue helper per job."""

from __future__ import annotations

import redis
from rq import Queue

BUILD_QUEUE = "builds"
DEPLOY_QUEUE = "deploys"
ALL_QUEUES = (BUILD_QUEUE, DEPLOY_QUEUE)


def queue(connection: redis.Redis[bytes], name: str) -> Queue:
    return Queue(name, connection=connection)
