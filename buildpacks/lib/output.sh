#!/usr/bin/env bash
# Usage: source lib/output.sh
# Heroku-style build output: `-----> ` for a step, seven spaces for detail, ` !     ` for problems.

output::step() {
	echo "-----> $*"
}

output::info() {
	echo "       $*"
}

# Indents another program's output while it streams (sed -u keeps it line by line).
output::indent() {
	sed -u 's/^/       /'
}

output::warning() {
	local line
	echo >&2
	for line in "$@"; do
		echo " !     ${line}" >&2
	done
	echo >&2
}

# Prints a user-facing error (one argument per line) and exits with failure.
output::error() {
	output::warning "$@"
	exit 1
}
