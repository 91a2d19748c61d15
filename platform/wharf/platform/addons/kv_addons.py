"""Redis 8 and memcached 1.6 add-ons.

Redis keeps an append-only file on its volume and requires a password. memcached has no
persistence worth keeping and no password in its text protocol: its only fence is the app's network.
"""

from __future__ import annotations

import shlex

from cryptography import x509

from wharf.platform.addons.base import AddonError, AddonSpec, random_secret
from wharf.platform.addons.docker_provider import MIB, DockerAddonProvider
from wharf.platform.security.authority import Leaf

REDIS_PORT = 6379
# TLS beside the plain port, as Heroku Redis offers it: `rediss://` in <attachment>_TLS_URL.
REDIS_TLS_PORT = 6380
# The files the server serves now (the entrypoint's, or the last ones installed).
SERVED_CERTIFICATE = 'f=$(redis-cli --raw CONFIG GET tls-cert-file | tail -n 1) && [ -n "$f" ] && cat "$f"'
# New files under new names (Redis reloads TLS when the configured paths change), then the old ones go.
INSTALL_CERTIFICATE = """umask 077
new=/tmp/redis-tls-$WHARF_TLS_SERIAL
printf '%s\\n' "$WHARF_TLS_KEY" >"$new.key" && printf '%s\\n' "$WHARF_TLS_CERT" >"$new.crt"
answer=$(redis-cli CONFIG SET tls-cert-file "$new.crt" tls-key-file "$new.key")
[ "$answer" = OK ] || { echo "$answer"; rm -f "$new.key" "$new.crt"; exit 1; }
for f in /tmp/redis-tls*.crt /tmp/redis-tls*.key; do
  case "$f" in "$new".*) ;; *) rm -f "$f" ;; esac
done
"""
MEMCACHED_PORT = 11211
REDIS_INFO_FIELDS = {
    "redis_version": "Version",
    "used_memory_human": "Memory Used",
    "maxmemory_human": "Memory Limit",
    "connected_clients": "Clients",
    "uptime_in_seconds": "Uptime (s)",
    "aof_enabled": "Append-Only File",
}
MEMCACHED_PROBE = (
    "import socket,sys\n"
    "s = socket.create_connection(('127.0.0.1', 11211), 2)\n"
    "s.sendall(b'version\\r\\n')\n"
    "sys.exit(0 if s.recv(64).startswith(b'VERSION') else 1)\n"
)


class RedisProvider(DockerAddonProvider):
    kind = "redis"
    port = REDIS_PORT
    memory_bytes = 256 * MIB

    def new_credentials(self) -> dict[str, str]:
        return {"password": random_secret(40)}

    def connection_url(self, spec: AddonSpec) -> str:
        return f"redis://default:{spec.credentials['password']}@{spec.host}:{REDIS_PORT}"

    def tls_url(self, spec: AddonSpec) -> str | None:
        if self._tls_intermediate is None:
            return None
        return f"rediss://default:{spec.credentials['password']}@{spec.host}:{REDIS_TLS_PORT}"

    def environment(self, spec: AddonSpec) -> dict[str, str]:
        return {"WHARF_REDIS_PASSWORD": spec.credentials["password"], "WHARF_REDIS_MAXMEMORY": "192mb"}

    def creation_environment(self, spec: AddonSpec) -> dict[str, str]:
        """The first server certificate (renewed in place by `renew_certificate` while the server runs)."""
        leaf = self.new_leaf(spec)
        if leaf is None:
            return {}
        return {"WHARF_REDIS_TLS_CERT": leaf.chain_pem.decode(), "WHARF_REDIS_TLS_KEY": leaf.key_pem.decode()}

    def served_certificate(self, spec: AddonSpec) -> bytes | None:
        code, output = self.exec_in(spec, ["/bin/sh", "-c", SERVED_CERTIFICATE], env=self._cli_env(spec))
        return output.encode() if code == 0 and "BEGIN CERTIFICATE" in output else None

    def install_certificate(self, spec: AddonSpec, leaf: Leaf) -> None:
        """`CONFIG SET` of both files at once: Redis loads them, new TLS connections get the new
        certificate and open ones carry on."""
        serial = f"{x509.load_pem_x509_certificate(leaf.chain_pem).serial_number:x}"
        env = {**self._cli_env(spec), "WHARF_TLS_SERIAL": serial,
               "WHARF_TLS_CERT": leaf.chain_pem.decode(), "WHARF_TLS_KEY": leaf.key_pem.decode()}  # fmt: skip
        code, output = self.exec_in(spec, ["/bin/sh", "-c", INSTALL_CERTIFICATE], env=env)
        if code != 0:
            raise AddonError(f"could not install the new certificate in {spec.name}: {output.strip()}")

    def _cli_env(self, spec: AddonSpec) -> dict[str, str]:
        return {"REDISCLI_AUTH": spec.credentials["password"]}

    def probe_argv(self, spec: AddonSpec) -> list[str]:
        # REDISCLI_AUTH is not in the container's environment; the probe reads the password it has.
        return ["/bin/sh", "-c", 'REDISCLI_AUTH="$WHARF_REDIS_PASSWORD" redis-cli ping | grep -q PONG']

    def console_argv(self, spec: AddonSpec, command: str) -> tuple[list[str], dict[str, str]]:
        words = shlex.split(command)
        if not words:
            raise AddonError("no Redis command given")
        return ["redis-cli", "-h", spec.host, "-p", str(REDIS_PORT), *words], self._cli_env(spec)

    def info(self, spec: AddonSpec) -> dict[str, str]:
        health = self.health(spec)
        facts = {"Status": health.state.value}
        if not health.ok:
            return facts
        code, output = self.exec_in(spec, ["redis-cli", "INFO"], env=self._cli_env(spec))
        if code != 0:
            raise AddonError(f"redis-cli INFO failed on {spec.name}: {output.strip()}")
        fields = dict(line.split(":", 1) for line in output.splitlines() if ":" in line)
        for key, title in REDIS_INFO_FIELDS.items():
            if key in fields:
                facts[title] = fields[key].strip()
        keys = [v for k, v in fields.items() if k.startswith("db")]
        facts["Keys"] = str(sum(int(v.split(",")[0].split("=")[1]) for v in keys))
        return facts


class MemcachedProvider(DockerAddonProvider):
    kind = "memcached"
    port = MEMCACHED_PORT
    memory_bytes = 128 * MIB
    persistent = False

    def new_credentials(self) -> dict[str, str]:
        return {}

    def connection_url(self, spec: AddonSpec) -> str:
        return f"memcached://{spec.host}:{MEMCACHED_PORT}"

    def environment(self, spec: AddonSpec) -> dict[str, str]:
        return {"WHARF_MEMCACHED_MB": "64"}

    def probe_argv(self, spec: AddonSpec) -> list[str]:
        return ["python3", "-c", MEMCACHED_PROBE]
