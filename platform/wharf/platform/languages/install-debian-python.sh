#!/usr/bin/env bash
# Usage: install-debian-python.sh MIRROR "SUITE..." MAJOR_MINOR DEBIAN_VERSION
# Unpacks Debian's python3.X packages (from a newer suite than the stack's) into /out/python, in the build
# image as root in a throwaway container, and checks that the interpreter, moved out of /usr, imports the
# modules pip and apps need with the stack's libraries.
set -euo pipefail

MIRROR="$1"
SUITES="$2"
MAJOR_MINOR="$3"
VERSION="$4"
started="$(date +%s)"
elapsed() { echo "$(($(date +%s) - started)) s"; }

for suite in ${SUITES}; do
	echo "deb ${MIRROR} ${suite} main"
done >/etc/apt/sources.list.d/wharf-python.list
apt-get -o Acquire::Check-Valid-Until=false update -qq >/dev/null 2>&1
cd /tmp
packages=()
for package in "python${MAJOR_MINOR}-minimal" "libpython${MAJOR_MINOR}-minimal" "libpython${MAJOR_MINOR}-stdlib" \
	"python${MAJOR_MINOR}"; do
	packages+=("${package}=${VERSION}")
done
apt-get -o Acquire::Check-Valid-Until=false download -qq "${packages[@]}" >/dev/null
echo "       Downloaded Debian's python${MAJOR_MINOR} ${VERSION} ($(elapsed))"
mkdir -p /tmp/root
for deb in /tmp/*.deb; do
	dpkg-deb --extract "${deb}" /tmp/root
done
mv /tmp/root/usr /out/python
ln -sf "python${MAJOR_MINOR}" /out/python/bin/python3
ln -sf "python${MAJOR_MINOR}" /out/python/bin/python
/out/python/bin/python3 -c 'import ssl, sqlite3, zlib, bz2, lzma, ctypes, pyexpat, json, hashlib, venv, decimal' ||
	{ echo "       This interpreter cannot load its modules on this stack"; exit 1; }
chmod -R go-w /out/python
echo "       Unpacked ($(elapsed))"
