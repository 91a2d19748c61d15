#!/usr/bin/env bash
# Shared by the install scripts: install the Debian packages that are missing, and nothing else.

# Usage: apt::ensure_packages LABEL PACKAGE...
apt::ensure_packages() {
  local label="$1"
  shift
  local missing=()
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    echo "-----> $label present"
    return
  fi
  echo "-----> Installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
}
