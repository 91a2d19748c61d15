#!/usr/bin/env bash
# Usage: sudo bash scripts/install.sh
# Installs what Wharf needs on a Debian or Ubuntu host (idempotent): Docker Engine from Debian's docker.io,
# nginx, redis-server, PostgreSQL, git, mmdebstrap, then Wharf itself in a virtualenv at .venv, with the
# `wharf` and `wharfd` commands linked into /usr/local/bin. The distro's own nginx is turned off: Wharf's
# router runs its own on :80 and :443.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly repo_root
# shellcheck source=scripts/lib/apt.sh
source "$repo_root/scripts/lib/apt.sh"
readonly apt_packages=(
  docker.io nginx redis-server postgresql postgresql-client git mmdebstrap debootstrap
  ca-certificates busybox-static wrk shellcheck python3-venv pebble acme-tiny iproute2
)

install::apt_packages() {
  apt::ensure_packages "System packages" "${apt_packages[@]}"
}

# live-restore (dynos outlive a dockerd restart), json-file log rotation and address pools for 2,048 app
# networks, merged into daemon.json without touching the operator's own keys (the old file is kept aside).
install::docker_daemon_settings() {
  local outcome
  echo "-----> Docker daemon settings in /etc/docker/daemon.json"
  outcome="$(python3 "$repo_root/scripts/lib/docker_daemon_settings.py" /etc/docker/daemon.json)"
  if [ "$outcome" != "changed" ]; then
    echo "       nothing to change"
    return
  fi
  if ! docker info >/dev/null 2>&1; then
    echo "       dockerd is not running: it reads them when it starts"
  elif install::init_is_systemd && systemctl is-active --quiet docker && [ -z "$(docker ps -q 2>/dev/null)" ]; then
    echo "       restarting docker.service (no container runs yet)"
    systemctl restart docker
  else
    echo "       Restart dockerd to apply them: containers run, so Wharf leaves that to you"
    echo "       (\`systemctl restart docker\` where systemd runs; with live-restore already on, dynos keep running)."
  fi
}

install::init_is_systemd() {
  [ "$(cat /proc/1/comm 2>/dev/null)" = "systemd" ]
}

# The pid of the distro's own nginx (its default site holds :80), when one is running; the router's
# nginx keeps its pid file in the data dir, never here.
distro_nginx_pid_file=/run/nginx.pid
install::distro_nginx_pid() {
  local pid
  pid="$(cat "$distro_nginx_pid_file" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && grep -q nginx "/proc/$pid/cmdline" 2>/dev/null \
    && echo "$pid"
}

# `apt-get install nginx` starts the distro's nginx with its default site on :80, and Wharf's router runs
# an nginx of its own that must listen on :80 and :443: the distro's is stopped and kept off at boot.
install::distro_nginx_off() {
  local pid
  if install::init_is_systemd; then
    echo "-----> Disabling the distro's nginx.service: Wharf's router runs its own nginx on :80 and :443"
    systemctl disable --now nginx.service
    return
  fi
  update-rc.d nginx disable >/dev/null 2>&1 || true
  if pid="$(install::distro_nginx_pid)"; then
    echo "-----> Stopping the distro's nginx (pid $pid): Wharf's router runs its own nginx on :80 and :443"
    service nginx stop || kill -TERM "$pid"
  fi
}

# Where systemd runs: Docker starts at boot, and wharf.service runs `wharfd up` (restarted on failure).
# Elsewhere `wharfd up` starts and supervises dockerd itself.
install::systemd_units() {
  if ! install::init_is_systemd; then
    echo "-----> No systemd here: \`wharfd up\` starts and supervises dockerd itself"
    return
  fi
  echo "-----> Enabling docker.service and wharf.service"
  systemctl enable --now docker
  install -m 0644 "$repo_root/deploy/systemd/wharf.service" /etc/systemd/system/wharf.service
  systemctl daemon-reload
  systemctl enable wharf.service
  echo "       wharf.service starts \`wharfd up\` at boot; \`systemctl start wharf\` runs it now in the background"
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

install::main() {
  install::apt_packages
  install::distro_nginx_off
  install::docker_daemon_settings
  install::python_env
  install::systemd_units
  echo "-----> Done: run \`wharfd up\`"
}

# Sourced (by the tests), it only defines the steps.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  install::main
fi
