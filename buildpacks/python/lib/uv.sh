#!/usr/bin/env bash
# Usage: source lib/uv.sh
# Installing dependencies with uv, with uv's cache and the last virtualenv kept in CACHE_DIR.

# Points uv at the cache and at the stack's interpreters only (no interpreter downloads).
uv::configure() {
	local cache_dir="$1"
	export UV_CACHE_DIR="${cache_dir}/python/uv-cache"
	export UV_LINK_MODE=copy
	export UV_PYTHON_DOWNLOADS=never
	export UV_PYTHON_PREFERENCE=only-system
	export UV_NO_PROGRESS=1
	export UV_COLOR=never
}

# Prints the uv executable, installing uv into the cache when the stack lacks it.
uv::binary() {
	local cache_dir="$1" python="$2"
	local tool_dir="${cache_dir}/python/uv-tool"
	if command -v uv >/dev/null; then
		command -v uv
		return 0
	fi
	if [[ ! -x "${tool_dir}/bin/uv" ]]; then
		output::step "Installing uv" >&2
		"${python}" -m venv "${tool_dir}" >&2
		"${tool_dir}/bin/pip" install --quiet --disable-pip-version-check uv 2>&1 | output::indent >&2
	fi
	echo "${tool_dir}/bin/uv"
}

# Puts a virtualenv at VENV: the cached one when it was made by the same interpreter, else a new one.
uv::prepare_venv() {
	local uv="$1" python="$2" venv="$3" cache_dir="$4"
	local cached="${cache_dir}/python/venv" stamp="${cache_dir}/python/venv-interpreter"
	if [[ -d "${venv}" ]]; then
		output::warning "Replacing the .venv directory that came with the source code."
		rm -rf "${venv}"
	fi
	if [[ -d "${cached}" && "$(cat "${stamp}" 2>/dev/null)" == "$("${python}" -VV | head -n 1)" ]]; then
		output::step "Restoring the cached virtualenv"
		cp -a "${cached}" "${venv}"
	else
		output::step "Creating a virtualenv with $("${python}" -V)"
		"${uv}" venv --quiet --relocatable --python "${python}" "${venv}" 2>&1 | output::indent
	fi
}

# Copies the finished virtualenv to the cache so the next build starts from it.
uv::save_venv() {
	local python="$1" venv="$2" cache_dir="$3"
	rm -rf "${cache_dir}/python/venv"
	cp -a "${venv}" "${cache_dir}/python/venv"
	"${python}" -VV | head -n 1 >"${cache_dir}/python/venv-interpreter"
}

# Fails with advice when the app has none of the dependency files Wharf installs from.
uv::require_dependency_file() {
	local build_dir="$1" name
	for name in uv.lock poetry.lock requirements.txt; do
		if [[ -f "${build_dir}/${name}" ]]; then
			return 0
		fi
	done
	output::error "Wharf found no dependency list to install." \
		"Add requirements.txt, or pyproject.toml with uv.lock (run: uv lock)," \
		"or pyproject.toml with poetry.lock (run: poetry lock)."
}

# Installs the app's dependencies into VENV; returns the installer's status so the caller can explain.
uv::install_dependencies() {
	local uv="$1" build_dir="$2" venv="$3" bp_dir="$4"
	local python="${venv}/bin/python"
	if [[ -f "${build_dir}/uv.lock" ]]; then
		output::step "Installing dependencies from uv.lock with uv sync"
		(cd "${build_dir}" && UV_PROJECT_ENVIRONMENT="${venv}" "${uv}" sync --locked --no-dev --python "${python}") 2>&1 |
			output::indent
	elif [[ -f "${build_dir}/poetry.lock" ]]; then
		output::step "Installing dependencies from poetry.lock with uv"
		local pinned="${venv}/poetry-requirements.txt"
		"${python}" "${bp_dir}/lib/poetry_lock.py" "${build_dir}/poetry.lock" "${build_dir}/pyproject.toml" >"${pinned}" &&
			"${uv}" pip install --python "${python}" -r "${pinned}" 2>&1 | output::indent
	else
		output::step "Installing dependencies from requirements.txt with uv"
		(cd "${build_dir}" && "${uv}" pip install --python "${python}" -r requirements.txt) 2>&1 | output::indent
	fi
}
