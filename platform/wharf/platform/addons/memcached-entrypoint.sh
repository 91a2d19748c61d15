#!/bin/sh
# Usage: wharf-addon  (env: WHARF_MEMCACHED_MB)
# A cache keeps nothing worth persisting; TCP only, no UDP (amplification).
set -eu

exec memcached --port=11211 --listen=0.0.0.0 --udp-port=0 \
  --memory-limit="${WHARF_MEMCACHED_MB:-64}" --conn-limit=1024
