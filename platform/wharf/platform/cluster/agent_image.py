"""The node agent's image, built on each node from the stack's run image and this host's own Wharf.

There is no registry: every node builds the image itself (`wharfd cluster init` on the first manager,
`wharfd node join` on each new node). It holds the stack's run image's python3 (3.13) with the
libraries it loads, and nothing else of that image, plus the Wharf packages and the few pure-Python
clients the agent imports (Redis, Docker and theirs) copied in from this installation: nothing is
downloaded. Its tag is a digest of those files, so nodes running the same
Wharf build the same tag, and an upgraded Wharf builds a new one (and moves `latest` to it).
"""

from __future__ import annotations

import hashlib
import importlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from wharf.platform.stack.images import DEFAULT_RUN_IMAGE

if TYPE_CHECKING:
    import docker

AGENT_REPOSITORY = "wharf/node-agent"
# The newest build is also `wharf/node-agent:latest`, the name the stack file (compose.yaml) runs.
LATEST = "latest"
# The packages the agent imports, besides Wharf's own (pure Python, or with a pure fallback).
CLIENT_PACKAGES = ("redis", "docker", "requests", "urllib3", "idna", "certifi", "charset_normalizer")
SKIPPED = shutil.ignore_patterns("__pycache__", "*.pyc", "static", "templates")
LIBRARIES = "/usr/lib/x86_64-linux-gnu"
# Only what python3 and the agent load, from the run image: about 45 MB, not the run image's 340.
PYTHON_LIBRARIES = ("ld-linux-x86-64.so.2", "libc.so.6", "libm.so.6", "libz.so.1", "libexpat.so.1")
SSL_LIBRARIES = ("libssl.so.3", "libcrypto.so.3", "libzstd.so.1")
_COPIED_LIBRARIES = " ".join(f"{LIBRARIES}/{name}" for name in (*PYTHON_LIBRARIES, *SSL_LIBRARIES))
DOCKERFILE = f"""FROM {{base}} AS stack
FROM scratch
COPY --from=stack {_COPIED_LIBRARIES} {LIBRARIES}/
COPY --from=stack {LIBRARIES}/ld-linux-x86-64.so.2 /lib64/
COPY --from=stack /usr/bin/python3.13 /usr/bin/python3
COPY --from=stack /usr/lib/python3.13 /usr/lib/python3.13
COPY packages /opt/wharf-node-agent
ENV PYTHONPATH=/opt/wharf-node-agent PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 0:0
ENTRYPOINT ["/usr/bin/python3", "-m", "wharf.platform.cluster.node_agent"]
"""


def _package_folders() -> Iterator[tuple[str, Path]]:
    """(name in the image, folder here) of Wharf's platform package and of each client package."""
    import wharf.platform

    yield "wharf/platform", Path(next(iter(wharf.platform.__path__)))
    for name in CLIENT_PACKAGES:
        module = importlib.import_module(name)
        yield name, Path(module.__file__ or "").parent


def _files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            yield path


def agent_image_tag(base: str = DEFAULT_RUN_IMAGE) -> str:
    """`wharf/node-agent:<digest>`, the digest of the Dockerfile and of every file copied in."""
    digest = hashlib.sha256(DOCKERFILE.format(base=base).encode())
    for name, folder in _package_folders():
        for path in _files(folder):
            digest.update(f"{name}/{path.relative_to(folder)}\0".encode())
            digest.update(path.read_bytes())
    return f"{AGENT_REPOSITORY}:{digest.hexdigest()[:16]}"


def ensure_agent_image(client: docker.DockerClient, base: str = DEFAULT_RUN_IMAGE) -> str:
    """Build the agent's image on this engine unless it has it already; its tag."""
    import docker as docker_sdk

    tag = agent_image_tag(base)
    try:
        client.images.get(tag).tag(AGENT_REPOSITORY, LATEST)
        return tag
    except docker_sdk.errors.ImageNotFound:
        pass
    with tempfile.TemporaryDirectory(prefix="wharf-node-agent-") as context:
        root = Path(context)
        (root / "Dockerfile").write_text(DOCKERFILE.format(base=base))
        for name, folder in _package_folders():
            shutil.copytree(folder, root / "packages" / name, ignore=SKIPPED)
        image, _ = client.images.build(
            path=context, tag=tag, rm=True, forcerm=True, labels={"wharf.node-agent": "1"}
        )
    image.tag(AGENT_REPOSITORY, LATEST)
    return tag
