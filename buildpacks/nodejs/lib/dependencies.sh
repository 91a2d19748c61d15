#!/usr/bin/env bash
# Usage: source lib/dependencies.sh
# node_modules installs, skipped entirely when the lockfile is unchanged since the cached build.

# A fingerprint of everything that decides node_modules' contents.
dependencies::fingerprint() {
	local build_dir="$1" manager="$2" file
	{
		node --version
		echo "${manager}"
		for file in package.json package-lock.json npm-shrinkwrap.json yarn.lock pnpm-lock.yaml; do
			if [[ -f "${build_dir}/${file}" ]]; then
				sha256sum "${build_dir}/${file}" | cut -d' ' -f1
			fi
		done
	} | sha256sum | cut -d' ' -f1
}

# Restores the cached node_modules when the fingerprint matches; fails (returns 1) otherwise.
dependencies::restore() {
	local build_dir="$1" cache_dir="$2" fingerprint="$3"
	[[ -d "${cache_dir}/node/node_modules" ]] || return 1
	[[ "$(cat "${cache_dir}/node/fingerprint" 2>/dev/null)" == "${fingerprint}" ]] || return 1
	[[ ! -e "${build_dir}/node_modules" ]] || return 1
	cp -a "${cache_dir}/node/node_modules" "${build_dir}/node_modules"
}

dependencies::install() {
	local build_dir="$1" cache_dir="$2" manager="$3"
	cd "${build_dir}" || return 1
	case "${manager}" in
	pnpm)
		pnpm install --frozen-lockfile --prod=false --store-dir "${cache_dir}/node/pnpm-store" 2>&1 | output::indent
		;;
	yarn)
		if [[ "$(yarn --version)" == 1.* ]]; then
			yarn install --frozen-lockfile --production=false --non-interactive \
				--cache-folder "${cache_dir}/node/yarn-cache" 2>&1 | output::indent
		else
			YARN_CACHE_FOLDER="${cache_dir}/node/yarn-cache" YARN_NODE_LINKER=node-modules \
				yarn install --immutable 2>&1 | output::indent
		fi
		;;
	*)
		local command=install
		if [[ -f package-lock.json || -f npm-shrinkwrap.json ]]; then
			command=ci
		fi
		npm "${command}" --include=dev --no-audit --no-fund --prefer-offline \
			--cache "${cache_dir}/node/npm-cache" 2>&1 | output::indent
		;;
	esac
}

dependencies::save() {
	local build_dir="$1" cache_dir="$2" fingerprint="$3"
	rm -rf "${cache_dir}/node/node_modules"
	[[ -d "${build_dir}/node_modules" ]] || return 0
	cp -a "${build_dir}/node_modules" "${cache_dir}/node/node_modules"
	echo "${fingerprint}" >"${cache_dir}/node/fingerprint"
}

# Drops devDependencies from the slug after the build script, as Heroku does (NPM_CONFIG_PRODUCTION=false keeps them).
dependencies::prune() {
	local build_dir="$1" manager="$2"
	[[ "${NPM_CONFIG_PRODUCTION:-true}" != false ]] || return 0
	[[ -n "${PACKAGE_DEV_DEPENDENCIES}" && "${PACKAGE_DEV_DEPENDENCIES}" != "{}" ]] || return 0
	output::step "Pruning devDependencies"
	cd "${build_dir}" || return 1
	case "${manager}" in
	pnpm) pnpm prune --prod 2>&1 | output::indent ;;
	yarn) output::info "Kept devDependencies (yarn has no offline prune)." ;;
	*) npm prune --omit=dev --no-audit --no-fund 2>&1 | output::indent ;;
	esac
}
