#!/usr/bin/env bash
# Usage: build-python-from-source.sh MIRROR "SUITE..." MAJOR_MINOR DEBIAN_VERSION
# Builds CPython from the upstream tarball that Debian's source archive carries (`deb-src`), for a version no
# suite ships as packages for this stack, in the build image as root in a throwaway container, into
# /out/python. The interpreter is linked statically against libpython, so it runs wherever it is moved (the
# slug's .wharf/python), against the stack's own shared libraries (OpenSSL, SQLite, libffi, ...).
set -euo pipefail

MIRROR="$1"
SUITES="$2"
MAJOR_MINOR="$3"
VERSION="$4"
started="$(date +%s)"
elapsed() { echo "$(($(date +%s) - started)) s"; }

for suite in ${SUITES}; do
	echo "deb-src ${MIRROR} ${suite} main"
done >/etc/apt/sources.list.d/wharf-python-source.list
apt-get -o Acquire::Check-Valid-Until=false update -qq >/dev/null 2>&1
mkdir -p /tmp/download /tmp/src /tmp/stage
cd /tmp/download
apt-get -o Acquire::Check-Valid-Until=false source --download-only -qq "python${MAJOR_MINOR}=${VERSION}" >/dev/null
tarballs=(/tmp/download/python"${MAJOR_MINOR}"_*.orig.tar.*)
[ -f "${tarballs[0]}" ] || { echo "       Debian's source archive has no CPython tarball for ${VERSION}"; exit 1; }
echo "       Downloaded $(basename "${tarballs[0]}") ($(elapsed))"
# The headers of the stack's libraries that CPython's modules link against (the run image has the libraries).
DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::Check-Valid-Until=false install -y -qq --no-install-recommends \
	build-essential pkg-config libssl-dev zlib1g-dev libffi-dev libsqlite3-dev libbz2-dev liblzma-dev \
	libexpat1-dev uuid-dev libreadline-dev libncurses-dev >/tmp/apt.log 2>&1 || { tail -20 /tmp/apt.log; exit 1; }
echo "       Installed the compiler's headers ($(elapsed))"
tar -xf "${tarballs[0]}" -C /tmp/src --strip-components=1
cd /tmp/src
./configure --quiet --prefix=/usr/local --with-ensurepip=no >/tmp/configure.log 2>&1 ||
	{ tail -20 /tmp/configure.log; exit 1; }
echo "       Configured ($(elapsed))"
make -s -j"$(nproc)" >/tmp/make.log 2>&1 &
compiler=$!
while kill -0 "${compiler}" 2>/dev/null; do
	sleep 20
	kill -0 "${compiler}" 2>/dev/null && echo "       Compiling CPython ($(elapsed))"
done
wait "${compiler}" || { tail -20 /tmp/make.log; exit 1; }
echo "       Compiled ($(elapsed))"
make -s install DESTDIR=/tmp/stage >/tmp/install.log 2>&1 || { tail -20 /tmp/install.log; exit 1; }
home=/tmp/stage/usr/local
# What a dyno never needs: the test suite, the static library for embedding, the IDE and Tk.
rm -rf "${home}/lib/python${MAJOR_MINOR}/test" "${home}/lib/python${MAJOR_MINOR}/idlelib" \
	"${home}/lib/python${MAJOR_MINOR}/tkinter" "${home}"/lib/python"${MAJOR_MINOR}"/config-*/libpython*.a
strip --strip-unneeded "${home}/bin/python${MAJOR_MINOR}"
mv "${home}" /out/python
ln -sf "python${MAJOR_MINOR}" /out/python/bin/python3
ln -sf "python${MAJOR_MINOR}" /out/python/bin/python
/out/python/bin/python3 -c 'import ssl, sqlite3, zlib, bz2, lzma, ctypes, pyexpat, json, hashlib, venv, decimal, uuid, readline' ||
	{ echo "       This interpreter cannot load its modules on this stack"; exit 1; }
chmod -R go-w /out/python
echo "       Built and installed ($(elapsed), $(du -sm /out/python | cut -f1) MB)"
