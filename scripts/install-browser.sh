#!/usr/bin/env bash
# Usage: sudo bash scripts/install-browser.sh
# Installs what the dashboard's browser tests drive (idempotent): Debian's chromium and chromium-driver, and the
# Python `playwright` package in .venv. Playwright's own browser download is never used: the tests launch
# /usr/bin/chromium.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly repo_root
# shellcheck source=scripts/lib/apt.sh
source "$repo_root/scripts/lib/apt.sh"
readonly apt_packages=(chromium chromium-driver fonts-dejavu-core)

browser::apt_packages() {
  apt::ensure_packages "Chromium" "${apt_packages[@]}"
}

browser::playwright() {
  if "$repo_root/.venv/bin/python" -c "import playwright" 2>/dev/null; then
    echo "-----> Playwright present"
    return
  fi
  echo "-----> Installing playwright into $repo_root/.venv"
  "$repo_root/.venv/bin/pip" install -q playwright
}

browser::apt_packages
browser::playwright
