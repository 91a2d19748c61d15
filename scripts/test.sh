#!/usr/bin/env bash
# Usage: sudo bash scripts/test.sh [fast|full] [PYTEST-ARGS...]
# Installs everything the tests need on a fresh Debian host (a headless Chromium for the dashboard's
# browser tests included), starts the services, runs ruff and mypy,
# then pytest: `fast` skips the end-to-end tier (Docker, stack images, nginx); `full` (the default) runs all
# (the cluster tier too: a one-node Swarm on a private test host, docs/cluster.md).
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
    # The main run includes the cluster tier (tests/cluster, marker `cluster`: a three-node Swarm of private
    # Docker hosts, docs/cluster.md).
    # The dockerd restart tier runs on private Docker hosts (network namespaces of its own), as a second
    # run: either run failing (pytest's exit 5, nothing collected, included) fails the script.
    main_status=0
    .venv/bin/pytest "$@" || main_status=$?
    echo "-----> pytest -m dockerd_restart tests/chaos"
    restart_status=0
    .venv/bin/pytest -m dockerd_restart tests/chaos || restart_status=$?
    if [ "$main_status" -ne 0 ]; then exit "$main_status"; fi
    exit "$restart_status"
    ;;
  *) echo " !     Unknown tier '$tier': use fast or full" >&2; exit 2 ;;
esac
