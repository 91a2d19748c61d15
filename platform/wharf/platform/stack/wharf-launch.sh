#!/bin/bash
# Usage: wharf-launch COMMAND [ARG...]
# Starts a dyno process as Heroku does: from /app, after sourcing every .profile.d script,
# with a single COMMAND string run by bash (Procfile lines are shell commands).
cd /app || exit 1
export HOME=/app
for profile_script in /app/.profile.d/*.sh; do
	# shellcheck disable=SC1090
	[ -r "$profile_script" ] && . "$profile_script"
done
unset profile_script
if [ "$#" -eq 1 ]; then
	exec bash -c "$1"
fi
exec "$@"
