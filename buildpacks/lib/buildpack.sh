#!/usr/bin/env bash
# Usage: source lib/buildpack.sh  (needs lib/output.sh)
# Finding and running buildpacks by name, path, git URL or tarball URL, shared by the builder and `multi`.

# What Wharf builds when no buildpack is named, tried in this order; the first that detects wins.
# shellcheck disable=SC2034
BUILDPACK_DEFAULT_ORDER=(multi python nodejs static procfile)

# Prints the directory of the buildpack SPEC, fetching it into FETCH_DIR when it is a URL.
buildpack::resolve() {
	local spec="$1" builtin_dir="$2" fetch_dir="$3"
	local name="${spec#heroku/}"
	name="${name#heroku-buildpack-}"
	if [[ "${name}" =~ ^[a-z0-9-]+$ && -x "${builtin_dir}/${name}/bin/compile" ]]; then
		echo "${builtin_dir}/${name}"
	elif [[ "${spec}" == /* || "${spec}" == .* ]]; then
		[[ -x "${spec}/bin/compile" ]] || output::error "Buildpack ${spec} has no executable bin/compile."
		# A copy, because buildpacks may write an `export` file into their own directory.
		local copy
		copy="${fetch_dir}/$(echo -n "${spec}" | sha1sum | cut -c1-12)"
		mkdir -p "${copy}"
		cp -a "${spec}/." "${copy}/"
		echo "${copy}"
	elif [[ "${spec}" =~ ^(https?|git|ssh|file):// || "${spec}" == git@* ]]; then
		buildpack::fetch "${spec}" "${fetch_dir}"
	else
		output::error "Unknown buildpack '${spec}'." \
			"Name a built-in buildpack (python, nodejs, static, procfile, multi)," \
			"a directory, a git URL (https://host/repo.git#ref) or a tarball URL."
	fi
}

# Downloads a buildpack from a git URL (optionally #ref) or a .tgz URL and prints its directory.
buildpack::fetch() {
	local spec="$1" fetch_dir="$2"
	local url="${spec%%#*}" ref="" target
	if [[ "${spec}" == *#* ]]; then
		ref="${spec#*#}"
	fi
	target="${fetch_dir}/$(echo -n "${spec}" | sha1sum | cut -c1-12)"
	rm -rf "${target}"
	mkdir -p "${target}"
	if [[ "${url}" =~ \.(tgz|tar\.gz)$ ]]; then
		curl --fail --silent --show-error --location "${url}" | tar -xz -C "${target}" >&2 ||
			output::error "Could not download the buildpack ${url}."
	else
		local ref_args=()
		if [[ -n "${ref}" ]]; then
			ref_args=(--branch "${ref}")
		fi
		git clone --quiet --depth 1 "${ref_args[@]}" "${url}" "${target}" >&2 ||
			output::error "Could not clone the buildpack ${spec}."
	fi
	[[ -x "${target}/bin/compile" ]] || output::error "${spec} is not a buildpack: it has no executable bin/compile."
	echo "${target}"
}

# Runs bin/detect; prints the name it reports and fails when the buildpack does not apply.
buildpack::detect() {
	local buildpack_dir="$1" build_dir="$2"
	local name
	name="$("${buildpack_dir}/bin/detect" "${build_dir}")" || return 1
	echo "${name:-$(basename "${buildpack_dir}")}" | head -n 1
}

# Runs bin/compile, then loads the `export` file it may leave for the buildpacks after it.
buildpack::compile() {
	local buildpack_dir="$1" build_dir="$2" cache_dir="$3" env_dir="$4"
	"${buildpack_dir}/bin/compile" "${build_dir}" "${cache_dir}" "${env_dir}" || return
	if [[ -f "${buildpack_dir}/export" ]]; then
		# shellcheck disable=SC1091
		source "${buildpack_dir}/export"
	fi
}
