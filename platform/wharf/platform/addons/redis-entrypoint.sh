#!/bin/sh
# Usage: wharf-addon  (env: WHARF_REDIS_PASSWORD, WHARF_REDIS_MAXMEMORY)
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
exec redis-server "$conf"
