#!/usr/bin/env bash
# Usage: source lib/env.sh
# Config vars arrive as files in ENV_DIR (buildpack API v2); these helpers read them.

# Exports each config var from ENV_DIR except those that would break the build tools themselves.
env::export_env_dir() {
	local env_dir="$1"
	local denylist='^(PATH|GIT_DIR|CPATH|CPPATH|LD_PRELOAD|LIBRARY_PATH|LD_LIBRARY_PATH|LANG|BUILD_DIR|HOME|PYTHONHOME|PYTHONPATH)$'
	local path name
	[[ -d "${env_dir}" ]] || return 0
	for path in "${env_dir}"/*; do
		[[ -f "${path}" ]] || continue
		name="$(basename "${path}")"
		[[ "${name}" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || continue
		if [[ "${name}" =~ ${denylist} ]]; then
			continue
		fi
		export "${name}=$(cat "${path}")"
	done
}
