#!/usr/bin/env bash
# Usage: sudo bash scripts/install.sh
# Installs what Wharf needs on a Debian or Ubuntu host (idempotent): Docker Engine from Debian's docker.io,
# nginx, redis-server, PostgreSQL, git, mmdebstrap, then Wharf itself in a virtualenv at .venv, with the
# `wharf` and `wharfd` commands linked into /usr/local/bin.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly repo_root
# shellcheck source=scripts/lib/apt.sh
source "$repo_root/scripts/lib/apt.sh"
readonly apt_packages=(
  docker.io nginx redis-server postgresql postgresql-client git mmdebstrap debootstrap
  ca-certificates busybox-static wrk shellcheck python3-venv pebble acme-tiny
)

install::apt_packages() {
  apt::ensure_packages "System packages" "${apt_packages[@]}"
}

# One bridge network per app: Docker's default address pools fit about 30, so give it 2,048.
install::docker_address_pools() {
  local outcome
  outcome="$(python3 "$repo_root/scripts/lib/docker_address_pools.py" /etc/docker/daemon.json)"
  if [ "$outcome" != "changed" ]; then
    return
  fi
  echo "-----> Configured Docker's default-address-pools in /etc/docker/daemon.json"
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker \
    && [ -z "$(docker ps -q 2>/dev/null)" ]; then
    systemctl restart docker
  else
    echo "       Restart dockerd to apply it (containers are running, or dockerd is not a systemd unit)."
  fi
}

install::python_env() {
  local python="${WHARF_PYTHON:-python3}"
  if [ ! -x "$repo_root/.venv/bin/python" ]; then
    echo "-----> Creating $repo_root/.venv"
    "$python" -m venv "$repo_root/.venv"
  fi
  echo "-----> Installing Wharf into $repo_root/.venv"
  "$repo_root/.venv/bin/pip" install -q --upgrade pip
  "$repo_root/.venv/bin/pip" install -q -e "$repo_root/platform" -e "$repo_root/cli" -e "$repo_root/router" \
    -e "${repo_root}[dev]"
  ln -sf "$repo_root/.venv/bin/wharfd" /usr/local/bin/wharfd
  ln -sf "$repo_root/.venv/bin/wharf" /usr/local/bin/wharf
}

install::apt_packages
install::docker_address_pools
install::python_env
echo "-----> Done: run \`wharfd up\`"
