#!/usr/bin/env bash
# Usage: source lib/reusable.sh
# Whether this compile's output depends only on the dependency files, so Wharf may reuse it while
# they stay the same (see lib/reuse.sh of the built-in buildpacks).

# Succeeds when the installed packages come from an index only (no package built from the app's own
# files) and no step read the rest of the source (Django's collectstatic does).
python::output_depends_on_dependency_files_only() {
	local build_dir="$1"
	[[ ! -f "${build_dir}/manage.py" ]] || return 1
	if [[ -f "${build_dir}/uv.lock" ]]; then
		! grep -Eq '^source = \{ *(directory|path) *=' "${build_dir}/uv.lock" || return 1
	elif [[ -f "${build_dir}/poetry.lock" ]]; then
		! grep -Eq '^type = "(directory|file)"' "${build_dir}/poetry.lock" || return 1
	elif [[ -f "${build_dir}/requirements.txt" ]]; then
		! grep -Eq '^[[:space:]]*(-e|--editable|-r|--requirement|-c|--constraint|\.|/|file:)|@[[:space:]]*file:' \
			"${build_dir}/requirements.txt" || return 1
	fi
	return 0
}
