"""Where the CLI finds the API URL and the token: environment first, then the user's files.

- API URL: `WHARF_API_URL`, else `api_url` in `$XDG_CONFIG_HOME/wharf/config.json`, else the
  default local install (`http://127.0.0.1:5000`).
- Token: `WHARF_API_TOKEN`, else the `~/.netrc` entry for the API host (the entry `git` uses).
- Trust for an `https://` API: the system's trust store, plus the root certificate given to
  `wharf login --ca FILE` (copied to `$XDG_CONFIG_HOME/wharf/ca.pem`), or `WHARF_CA_FILE`.
"""

from __future__ import annotations

import json
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from wharf.cli import netrc_file
from wharf.cli.errors import NotLoggedInError, WharfError

DEFAULT_API_URL = "http://127.0.0.1:5000"


@dataclass(frozen=True)
class Credentials:
    token: str
    email: str | None
    from_environment: bool


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "wharf" / "config.json"


def load_config() -> dict[str, Any]:
    path = config_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise WharfError(f"Could not read {path}: {error}. Fix or delete the file.") from error
    return data if isinstance(data, dict) else {}


def save_config(updates: dict[str, Any]) -> None:
    path = config_path()
    data = load_config() | updates
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def normalize_api_url(url: str) -> str:
    """Accept `host:5000`, `http://host:5000/` or `http://host:5000/api`; keep `http://host:5000`."""
    candidate = url.strip().rstrip("/")
    if "://" not in candidate:
        candidate = "http://" + candidate
    if candidate.endswith("/api"):
        candidate = candidate[: -len("/api")]
    parts = urlsplit(candidate)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise WharfError(f"{url!r} is not an API URL. Use the form http://HOST:5000.")
    return candidate


def stored_ca_path() -> Path:
    return config_path().parent / "ca.pem"


def ca_file() -> Path | None:
    """The root certificate to trust besides the system store: WHARF_CA_FILE, else the stored one."""
    configured = os.environ.get("WHARF_CA_FILE") or load_config().get("ca_file")
    return Path(configured) if configured else None


def tls_context(ca: Path | None = None) -> ssl.SSLContext:
    """Verification with hostname checks, never off: the system trust store plus ``ca`` when given."""
    context = ssl.create_default_context()
    ca = ca or ca_file()
    if ca is not None:
        try:
            context.load_verify_locations(cafile=str(ca))
        except (OSError, ssl.SSLError) as error:
            raise WharfError(
                f"Could not use {ca} as a root certificate ({error}). Give the PEM that `wharfd ca` prints."
            ) from error
    return context


def store_ca(source: Path) -> Path:
    """Keep a copy of the root (the file given may be a pipe, as with `--ca <(wharfd ca)`)."""
    try:
        pem = source.read_bytes()
    except OSError as error:
        raise WharfError(f"Could not read {source}: {error}.") from error
    if b"-----BEGIN CERTIFICATE-----" not in pem:
        raise WharfError(f"{source} is not a PEM certificate. Give the file `wharfd ca` prints.")
    target = stored_ca_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(pem)
    return target


def api_url() -> str:
    configured = os.environ.get("WHARF_API_URL") or load_config().get("api_url") or DEFAULT_API_URL
    return normalize_api_url(str(configured))


def api_host(url: str) -> str:
    """The netrc machine name: the bare host name, which is what curl (and so git) looks up."""
    return urlsplit(url).hostname or url


def stored_credentials(url: str) -> Credentials | None:
    token = os.environ.get("WHARF_API_TOKEN")
    if token:
        return Credentials(token=token, email=None, from_environment=True)
    entry = netrc_file.read_entry(api_host(url))
    if entry is None or not entry.password:
        return None
    return Credentials(token=entry.password, email=entry.login, from_environment=False)


def require_credentials(url: str) -> Credentials:
    credentials = stored_credentials(url)
    if credentials is None:
        raise NotLoggedInError()
    return credentials
