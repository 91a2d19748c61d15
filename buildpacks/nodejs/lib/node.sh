#!/usr/bin/env bash
# Usage: source lib/node.sh
# Reading package.json and choosing the package manager from the lockfile the app commits.

# Reads the package.json fields the build depends on into PACKAGE_* variables, in one node start.
node::read_package_json() {
	local build_dir="$1"
	local fields=()
	local field
	while IFS= read -r -d '' field; do
		fields+=("${field}")
	done < <(node "${BUILDPACK_DIR}/lib/package_json.js" "${build_dir}/package.json" \
		engines.node packageManager scripts.heroku-postbuild scripts.build devDependencies)
	[[ "${#fields[@]}" -eq 5 ]] || output::error "Wharf could not read package.json: is it valid JSON?"
	PACKAGE_ENGINES_NODE="${fields[0]}"
	PACKAGE_MANAGER_FIELD="${fields[1]}"
	PACKAGE_SCRIPT_POSTBUILD="${fields[2]}"
	PACKAGE_SCRIPT_BUILD="${fields[3]}"
	PACKAGE_DEV_DEPENDENCIES="${fields[4]}"
	export PACKAGE_ENGINES_NODE PACKAGE_MANAGER_FIELD PACKAGE_SCRIPT_POSTBUILD PACKAGE_SCRIPT_BUILD \
		PACKAGE_DEV_DEPENDENCIES
}

# Prints "Node.js vX and npm Y" without starting npm itself (which takes most of a second).
node::versions() {
	local npm_version
	npm_version="$(node -p 'require("npm/package.json").version' 2>/dev/null || npm --version)"
	echo "Node.js $(node --version) and npm ${npm_version}"
}

# Prints npm, yarn or pnpm, following the lockfile (npm when there is none).
node::package_manager() {
	local build_dir="$1"
	if [[ -f "${build_dir}/pnpm-lock.yaml" ]]; then
		echo pnpm
	elif [[ -f "${build_dir}/yarn.lock" ]]; then
		echo yarn
	else
		echo npm
	fi
}

# Prints the version pinned by package.json's packageManager field for TOOL (e.g. pnpm@9.1.0 -> 9.1.0).
node::pinned_tool_version() {
	local tool="$1"
	local pinned="${PACKAGE_MANAGER_FIELD}"
	if [[ "${pinned}" == "${tool}@"* ]]; then
		pinned="${pinned#"${tool}"@}"
		echo "${pinned%%+*}"
	fi
}

# Installs yarn or pnpm from the npm registry into the cache (and the slug, for run time) when needed.
node::install_tool() {
	local build_dir="$1" cache_dir="$2" tool="$3" version default_version=latest
	if [[ "${tool}" == yarn ]]; then
		default_version=1
	fi
	version="$(node::pinned_tool_version "${tool}")"
	version="${version:-${default_version}}"
	local tools_dir="${cache_dir}/node/tools/${tool}-${version}"
	if [[ ! -x "${tools_dir}/node_modules/.bin/${tool}" ]]; then
		output::step "Installing ${tool}@${version}"
		npm install --silent --no-audit --no-fund --prefix "${tools_dir}" "${tool}@${version}" 2>&1 | output::indent
	fi
	mkdir -p "${build_dir}/.wharf"
	rm -rf "${build_dir}/.wharf/node-tools"
	cp -a "${tools_dir}" "${build_dir}/.wharf/node-tools"
	export PATH="${build_dir}/.wharf/node-tools/node_modules/.bin:${PATH}"
}

# Warns when package.json's engines.node range does not include the stack's Node.js.
node::check_engine() {
	local wanted="${PACKAGE_ENGINES_NODE}"
	[[ -n "${wanted}" ]] || return 0
	if node -e 'process.exit(require("semver").satisfies(process.version, process.argv[1]) ? 0 : 1)' "${wanted}" 2>/dev/null; then
		return 0
	fi
	output::warning "package.json asks for Node.js ${wanted}; this stack offers $(node --version)." \
		"The build goes on with $(node --version)."
}

# Copies the Node.js the platform installed for this app (WHARF_NODE_HOME, read-only in the builder) into
# the slug at .wharf/node and puts it first on PATH; returns 1 when the stack's Node.js is to be used.
node::use_installed_runtime() {
	local build_dir="$1"
	[[ -n "${WHARF_NODE_HOME:-}" && -x "${WHARF_NODE_HOME}/bin/node" ]] || return 1
	mkdir -p "${build_dir}/.wharf"
	rm -rf "${build_dir}/.wharf/node"
	cp -a "${WHARF_NODE_HOME}" "${build_dir}/.wharf/node"
	export PATH="${build_dir}/.wharf/node/bin:${PATH}"
	# Native add-ons build against the headers that came with this Node.js instead of downloading them.
	export npm_config_nodedir="${build_dir}/.wharf/node"
}
