#!/usr/bin/env bash
# Usage: sudo bash scripts/test.sh [fast|full] [PYTEST-ARGS...]
# Installs everything the tests need on a fresh Debian host (a headless Chromium for the dashboard's
# browser tests included), starts the services, runs ruff and mypy,
# then pytest: `fast` skips the end-to-end tier (Docker, stack images, nginx); `full` (the default) runs all
# (the cluster and dockerd restart tiers too, on private Docker hosts, beside the main run: docs/cluster.md).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

tier="${1:-full}"
[ $# -gt 0 ] && shift

bash scripts/install.sh
bash scripts/install-browser.sh
eval "$(bash scripts/start-services.sh)"

echo "-----> ruff"
.venv/bin/ruff check .
echo "-----> mypy"
.venv/bin/mypy
echo "-----> pytest ($tier)"
case "$tier" in
  fast) exec .venv/bin/pytest -m "not e2e" "$@" ;;
  full)
    # Four pytest runs, each failing the script if it fails (pytest's exit 5, nothing collected, included):
    # - the main run: the end-to-end tier (marker `e2e`) but the cluster tier, on this host's Docker,
    #   nginx and stack images;
    # - beside it, one after the other (their output follows the main run's):
    #   - the cluster tier (marker `cluster`: a three-node Swarm of private Docker hosts and the runtime
    #     contract's swarm parameter, docs/cluster.md) and the dockerd restart tier (`dockerd_restart`:
    #     private Docker hosts whose engines are stopped and started), both on private engines in
    #     network namespaces of their own;
    #   - then the fast tier (`not e2e`), which uses no Docker engine, nginx or fixed port.
    # Given test paths or options, one run of exactly those.
    if [ $# -gt 0 ]; then exec .venv/bin/pytest "$@"; fi
    side_log="$(mktemp /tmp/wharf-tests-private-hosts.XXXXXX)"
    # The side run's tests flush the Redis they use before each test (the redis_client fixture), as
    # the main run's do: each run gets a database of its own on the one redis-server.
    side_redis_url="${REDIS_URL%/*}/1"
    (
      export REDIS_URL="$side_redis_url"
      side_status=0
      .venv/bin/pytest --durations=10 -m cluster tests || side_status=$?
      echo "-----> pytest -m dockerd_restart tests/chaos"
      .venv/bin/pytest --durations=5 -m dockerd_restart tests/chaos || side_status=$?
      echo "-----> pytest -m 'not e2e and not cluster' (the fast tier)"
      .venv/bin/pytest --durations=10 -m "not e2e and not cluster" || side_status=$?
      exit "$side_status"
    ) >"$side_log" 2>&1 &
    side_pid=$!
    main_status=0
    .venv/bin/pytest --durations=25 -m "e2e and not cluster" || main_status=$?
    side_status=0
    wait "$side_pid" || side_status=$?
    echo "-----> pytest -m cluster tests, pytest -m dockerd_restart tests/chaos, then the fast tier (run beside the main run)"
    cat "$side_log"
    rm -f "$side_log"
    if [ "$main_status" -ne 0 ]; then exit "$main_status"; fi
    exit "$side_status"
    ;;
  *) echo " !     Unknown tier '$tier': use fast or full" >&2; exit 2 ;;
esac
