#!/bin/sh
# Usage: wharf-addon  (env: WHARF_REDIS_PASSWORD, WHARF_REDIS_MAXMEMORY,
#                      optional WHARF_REDIS_TLS_CERT and WHARF_REDIS_TLS_KEY in PEM: TLS on port 6380)
# Writes the config to the container's tmpfs so the password never appears in the process list,
# and keeps an append-only file on the volume so that writes survive restarts.
set -eu

umask 077
conf=/tmp/redis.conf
cat >"$conf" <<CONF
bind * -::*
port 6379
protected-mode no
dir /var/lib/wharf-addon
appendonly yes
appendfsync everysec
requirepass $WHARF_REDIS_PASSWORD
maxmemory ${WHARF_REDIS_MAXMEMORY:-192mb}
CONF
if [ -n "${WHARF_REDIS_TLS_CERT:-}" ] && [ -n "${WHARF_REDIS_TLS_KEY:-}" ]; then
  printf '%s\n' "$WHARF_REDIS_TLS_CERT" >/tmp/redis-tls.crt
  printf '%s\n' "$WHARF_REDIS_TLS_KEY" >/tmp/redis-tls.key
  cat >>"$conf" <<CONF
tls-port 6380
tls-cert-file /tmp/redis-tls.crt
tls-key-file /tmp/redis-tls.key
tls-auth-clients no
CONF
fi
unset WHARF_REDIS_TLS_KEY WHARF_REDIS_TLS_CERT
exec redis-server "$conf"
