#!/usr/bin/env bash
# Usage: source lib/reuse.sh
# Wharf's extension of the buildpack API: a compile that depends only on some files of the app says
# which, so that a later build with those files unchanged can reuse its output without compiling.
# Wharf names the file to write in $WHARF_REUSE_INPUTS; elsewhere (or when a compile does not say)
# nothing is reused.

# Declares that this compile read only PATH... of the app (relative to BUILD_DIR).
reuse::declare_inputs() {
	[[ -n "${WHARF_REUSE_INPUTS:-}" ]] || return 0
	printf '%s\n' "$@" >>"${WHARF_REUSE_INPUTS}"
}

# Declares that this compile read no file of the app.
reuse::declare_no_inputs() {
	[[ -n "${WHARF_REUSE_INPUTS:-}" ]] || return 0
	touch "${WHARF_REUSE_INPUTS}"
}
