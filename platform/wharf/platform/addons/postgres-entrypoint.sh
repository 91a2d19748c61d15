#!/bin/sh
# Usage: wharf-addon  (env: WHARF_PG_USER, WHARF_PG_PASSWORD, WHARF_PG_DATABASE,
#                      optional WHARF_PG_TLS_CERT and WHARF_PG_TLS_KEY in PEM)
# Initialises the cluster on an empty volume, with the app's role owning the app's database,
# then runs the server in the foreground. The superuser is reachable only over the local socket.
# With a certificate the server also speaks TLS; plain connections from the app network still work.
set -eu

bin=/usr/lib/postgresql/17/bin
data=/var/lib/wharf-addon/pgdata

if [ ! -s "$data/PG_VERSION" ]; then
  "$bin/initdb" --pgdata="$data" --username=postgres --encoding=UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  echo "host all all all scram-sha-256" >>"$data/pg_hba.conf"
  "$bin/postgres" --single -D "$data" -c listen_addresses='' -c unix_socket_directories=/tmp postgres >/dev/null <<SQL
CREATE ROLE "$WHARF_PG_USER" LOGIN PASSWORD '$WHARF_PG_PASSWORD';
CREATE DATABASE "$WHARF_PG_DATABASE" OWNER "$WHARF_PG_USER";
REVOKE CONNECT ON DATABASE postgres FROM PUBLIC;
SQL
  echo "wharf-addon: initialised database $WHARF_PG_DATABASE"
fi

set -- -D "$data" -c listen_addresses='*' -c unix_socket_directories=/tmp
if [ -n "${WHARF_PG_TLS_CERT:-}" ] && [ -n "${WHARF_PG_TLS_KEY:-}" ]; then
  # On the container's tmpfs, 0600: written again at every start, never in the volume or a backup.
  (umask 077 && printf '%s\n' "$WHARF_PG_TLS_CERT" >/tmp/server.crt && printf '%s\n' "$WHARF_PG_TLS_KEY" >/tmp/server.key)
  set -- "$@" -c ssl=on -c ssl_cert_file=/tmp/server.crt -c ssl_key_file=/tmp/server.key
fi
unset WHARF_PG_TLS_KEY WHARF_PG_TLS_CERT WHARF_PG_PASSWORD
exec "$bin/postgres" "$@"
