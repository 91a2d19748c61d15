"""The registry's HTTP API (distribution's /v2/), verified against Wharf's root: tags, manifest digests,
and deleting a manifest, which `wharfd gc` does for releases no longer kept."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    )
)
TIMEOUT = 30.0


class RegistryError(Exception):
    """The registry refused or could not be reached."""


@dataclass(frozen=True)
class RegistryApi:
    host: str  # address:port
    root_pem: bytes

    def _request(self, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
        context = ssl.create_default_context(cadata=self.root_pem.decode())
        request = urllib.request.Request(
            f"https://{self.host}/v2/{path}", method=method, headers={"Accept": MANIFEST_TYPES}
        )
        try:
            with urllib.request.urlopen(request, context=context, timeout=TIMEOUT) as response:  # noqa: S310 (https only)
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return 404, dict(error.headers), b""
            raise RegistryError(f"{method} /v2/{path}: {error.code} {error.reason}") from None
        except (urllib.error.URLError, OSError) as error:
            raise RegistryError(f"the registry at {self.host} cannot be reached: {error}") from None

    def answers(self) -> bool:
        try:
            return self._request("GET", "")[0] == 200
        except RegistryError:
            return False

    def tags(self, repository: str) -> list[str]:
        status, _headers, body = self._request("GET", f"{repository}/tags/list")
        if status == 404:
            return []
        return [str(tag) for tag in json.loads(body).get("tags") or []]

    def digest(self, repository: str, tag: str) -> str | None:
        status, headers, _body = self._request("HEAD", f"{repository}/manifests/{urllib.parse.quote(tag)}")
        if status == 404:
            return None
        found = {key.lower(): value for key, value in headers.items()}.get("docker-content-digest")
        return found or None

    def delete_manifest(self, repository: str, digest: str) -> bool:
        """Delete the manifest (every tag naming it goes with it); False if it was already gone."""
        return self._request("DELETE", f"{repository}/manifests/{digest}")[0] != 404
