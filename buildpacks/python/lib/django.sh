#!/usr/bin/env bash
# Usage: source lib/django.sh
# Django's collectstatic, run at build time as Heroku does, unless DISABLE_COLLECTSTATIC is set.

django::collectstatic() {
	local build_dir="$1" venv="$2"
	[[ -f "${build_dir}/manage.py" ]] || return 0
	"${venv}/bin/python" -c "import django" 2>/dev/null || return 0
	if [[ -n "${DISABLE_COLLECTSTATIC:-}" && "${DISABLE_COLLECTSTATIC}" != "0" ]]; then
		output::step "Skipping Django collectstatic (DISABLE_COLLECTSTATIC is set)"
		return 0
	fi
	output::step "Running: manage.py collectstatic --noinput"
	if ! (cd "${build_dir}" && "${venv}/bin/python" manage.py collectstatic --noinput 2>&1 | output::indent); then
		output::error "Django's collectstatic failed (its error is above)." \
			"Fix STATIC_ROOT and the static settings, or set DISABLE_COLLECTSTATIC=1 to skip this step."
	fi
}
