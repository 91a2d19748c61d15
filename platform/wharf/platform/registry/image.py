"""The registry's image: Debian's `docker-registry` package (the distribution registry) installed on the
run stack, so that no image comes from a public registry."""

from __future__ import annotations

import io
import tarfile
from typing import Any

import docker.errors

from wharf.platform.stack.images import DEFAULT_RUN_IMAGE

REGISTRY_IMAGE = "wharf/registry:trixie"
CONFIG_PATH = "/etc/docker/registry/config.yml"
STORAGE_PATH = "/var/lib/docker-registry"
TLS_PATH = "/etc/wharf-registry"

# Built on the run stack, then only the binary, the libraries it links and its copyright are kept: the
# image is a twentieth of the stack's size, which every node that runs it would otherwise load.
REGISTRY_DOCKERFILE = """\
FROM {run_image} AS package
USER root
RUN apt-get update \\
 && apt-get install -y --no-install-recommends docker-registry \\
 && mkdir -p /out/etc/docker/registry \\
 && cp --parents /usr/bin/docker-registry /usr/share/doc/docker-registry/copyright /out \\
 && for lib in $(ldd /usr/bin/docker-registry | grep -o '/[^ ]*'); do cp -L --parents "$lib" /out; done

FROM scratch
COPY --from=package /out/ /
LABEL io.wharf.component=registry
EXPOSE 5000
ENTRYPOINT ["/usr/bin/docker-registry", "serve"]
CMD ["{config}"]
"""


def _context(run_image: str) -> io.BytesIO:
    dockerfile = REGISTRY_DOCKERFILE.format(run_image=run_image, config=CONFIG_PATH).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        entry = tarfile.TarInfo("Dockerfile")
        entry.size = len(dockerfile)
        archive.addfile(entry, io.BytesIO(dockerfile))
    buffer.seek(0)
    return buffer


def ensure_registry_image(
    client: Any, *, name: str = REGISTRY_IMAGE, run_image: str = DEFAULT_RUN_IMAGE, rebuild: bool = False
) -> str:
    """Build the registry image from the run stack unless `name` is already on this engine; its id."""
    if not rebuild:
        try:
            return str(client.images.get(name).id)
        except docker.errors.ImageNotFound:
            pass
    image, _log = client.images.build(fileobj=_context(run_image), custom_context=True, tag=name, rm=True)
    return str(image.id)
