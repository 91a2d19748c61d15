#!/usr/bin/env bash
# Usage: source lib/python_version.sh
# Chooses the interpreter: the one the platform resolved (WHARF_PYTHON), else the version in
# .python-version or runtime.txt if the stack has it.

# Prints the version the app asks for (e.g. 3.13 or 3.13.5), or nothing when it names none.
python_version::requested() {
	local build_dir="$1" line
	if [[ -f "${build_dir}/.python-version" ]]; then
		line="$(grep -v '^[[:space:]]*#' "${build_dir}/.python-version" | grep -m 1 . || true)"
	elif [[ -f "${build_dir}/runtime.txt" ]]; then
		line="$(grep -m 1 . "${build_dir}/runtime.txt" || true)"
	else
		return 0
	fi
	line="$(echo "${line}" | tr -d '[:space:]')"
	line="${line#cpython-}"
	echo "${line#python-}"
}

# Prints the Python versions on offer (major.minor), one a line.
python_version::available() {
	local interpreter
	for interpreter in /usr/bin/python3.[0-9]*; do
		if [[ "${interpreter}" =~ /python(3\.[0-9]+)$ && -x "${interpreter}" ]]; then
			echo "${BASH_REMATCH[1]}"
		fi
	done | sort -V
}

# Prints the interpreter path for the app, or fails naming the versions on offer.
python_version::select() {
	local build_dir="$1" requested major_minor available
	# The platform resolved the app's version files (requires-python too): the stack's interpreter
	# (WHARF_PYTHON), or a CPython from the host's runtime cache (WHARF_PYTHON_HOME, read-only here),
	# which goes into the slug at .wharf/python so dynos have it.
	if [[ -n "${WHARF_PYTHON_HOME:-}" && -x "${WHARF_PYTHON_HOME}/bin/python3" ]]; then
		mkdir -p "${build_dir}/.wharf"
		rm -rf "${build_dir}/.wharf/python"
		cp -a "${WHARF_PYTHON_HOME}" "${build_dir}/.wharf/python"
		echo "${build_dir}/.wharf/python/bin/python3"
		return 0
	fi
	if [[ -n "${WHARF_PYTHON:-}" && -x "${WHARF_PYTHON}" ]]; then
		echo "${WHARF_PYTHON}"
		return 0
	fi
	requested="$(python_version::requested "${build_dir}")"
	available="$(python_version::available)"
	[[ -n "${available}" ]] || output::error "This stack has no Python 3 interpreter."
	if [[ -z "${requested}" ]]; then
		echo "/usr/bin/python$(echo "${available}" | tail -n 1)"
		return 0
	fi
	[[ "${requested}" =~ ^(3\.[0-9]+)(\.[0-9]+)?$ ]] ||
		output::error "Cannot read the Python version '${requested}'." \
			"Write a version such as 3.13 in .python-version."
	major_minor="${BASH_REMATCH[1]}"
	if ! grep -qx "${major_minor}" <<<"${available}"; then
		output::error "Python ${requested} is not available on this stack." \
			"Versions on offer: $(echo "${available}" | paste -sd ' ')" \
			"Change .python-version (or runtime.txt) to one of them."
	fi
	echo "/usr/bin/python${major_minor}"
}
