#!/usr/bin/env bash
# Usage: sudo bash scripts/start-services.sh
# Starts the services Wharf's tests need when they are not answering: dockerd, redis-server and PostgreSQL,
# for hosts where PID 1 is not systemd (CI, containers). Production hosts use their systemd units instead.
# Prints the environment the tests read (REDIS_URL, WHARF_TEST_POSTGRES_URL) as `export` lines.
set -euo pipefail

readonly state_dir="${WHARF_SERVICES_DIR:-/var/tmp/wharf-services}"
readonly pg_password="wharf-test-password"
mkdir -p "$state_dir"

services::dockerd() {
  if docker info >/dev/null 2>&1; then
    return
  fi
  echo "-----> Starting dockerd" >&2
  # A dockerd started here reads the settings Wharf needs (live-restore, log rotation, address pools);
  # a running one is left alone.
  python3 "$(dirname "${BASH_SOURCE[0]}")/lib/docker_daemon_settings.py" /etc/docker/daemon.json >/dev/null
  nohup dockerd >"$state_dir/dockerd.log" 2>&1 &
  local i
  for i in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return
    sleep 0.5
  done
  echo " !     dockerd did not start; see $state_dir/dockerd.log" >&2
  tail -20 "$state_dir/dockerd.log" >&2
  exit 1
}

services::redis() {
  if redis-cli -p 6379 ping >/dev/null 2>&1; then
    return
  fi
  echo "-----> Starting redis-server" >&2
  redis-server --port 6379 --bind 127.0.0.1 --daemonize yes --save "" --appendonly no \
    --logfile "$state_dir/redis.log" --dir "$state_dir" >&2
  local i
  for i in $(seq 1 50); do
    redis-cli -p 6379 ping >/dev/null 2>&1 && return
    sleep 0.1
  done
  echo " !     redis-server did not start; see $state_dir/redis.log" >&2
  exit 1
}

services::postgres() {
  local version
  version="$(ls /usr/lib/postgresql | sort -V | tail -1)"
  if ! pg_lsclusters -h | grep -q .; then
    pg_createcluster "$version" main >&2
  fi
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    echo "-----> Starting PostgreSQL $version" >&2
    pg_ctlcluster "$version" main start >&2
    local i
    for i in $(seq 1 50); do
      pg_isready -q -h 127.0.0.1 -p 5432 && break
      sleep 0.2
    done
  fi
  su postgres -c "psql -q -v ON_ERROR_STOP=1 -d postgres" >&2 <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'wharf_test') THEN
    CREATE ROLE wharf_test LOGIN CREATEDB PASSWORD '$pg_password';
  END IF;
END \$\$;
SQL
}

services::dockerd
services::redis
services::postgres
echo "export REDIS_URL=redis://127.0.0.1:6379/0"
echo "export WHARF_TEST_POSTGRES_URL=postgresql://wharf_test:$pg_password@127.0.0.1:5432/postgres"
