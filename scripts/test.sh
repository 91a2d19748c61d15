#!/usr/bin/env bash
# Usage: sudo bash scripts/test.sh [fast|full] [PYTEST-ARGS...]
# Installs everything the tests need on a fresh Debian host (a headless Chromium for the dashboard's
# browser tests included), starts the services, runs ruff and mypy,
# then pytest: `fast` skips the end-to-end tier (Docker, stack images, nginx); `full` (the default) runs all.
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
  full) exec .venv/bin/pytest "$@" ;;
  *) echo " !     Unknown tier '$tier': use fast or full" >&2; exit 2 ;;
esac
