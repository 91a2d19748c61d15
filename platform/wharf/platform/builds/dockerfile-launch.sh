#!/bin/sh
# Usage: wharf-launch COMMAND [ARG...]
# Starts a process of an app built from its own Dockerfile: in the image's working directory, after
# sourcing any .profile.d scripts the app ships, with a single COMMAND string run by sh (a Procfile line).
for profile_script in ./.profile.d/*.sh; do
	# shellcheck disable=SC1090
	[ -r "$profile_script" ] && . "$profile_script"
done
unset profile_script
if [ "$#" -eq 1 ]; then
	exec /bin/sh -c "$1"
fi
exec "$@"
