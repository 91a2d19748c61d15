#!/usr/bin/env bash
# Usage: sudo bash scripts/build-platform-image.sh [TAG]
# Builds the control-plane image that compose.yaml runs (default tag wharf/platform:latest) on the stack's
# build image (run `wharfd stack build` first). The host's CA bundle goes into the build context so that
# pip inside the build can reach the package index, as every Wharf container must.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly repo_root
readonly tag="${1:-wharf/platform:latest}"
readonly ca_bundle="${WHARF_HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"

context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
cp -r "$repo_root/platform" "$repo_root/router" "$repo_root/cli" "$repo_root/buildpacks" "$context/"
find "$context" -name '__pycache__' -prune -exec rm -rf {} + -o -name '*.egg-info' -prune -exec rm -rf {} +
cp "$repo_root/deploy/Dockerfile" "$context/Dockerfile"
cp "$ca_bundle" "$context/host-ca.crt"
echo "-----> Building $tag"
docker build -t "$tag" "$context"
