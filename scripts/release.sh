#!/usr/bin/env bash
# Cross-builds parley's release binaries, static (no cgo), with the version
# stamped: `parley version` prints it and the commit.
#
#   bash scripts/release.sh [VERSION]     default: git describe
#
# Writes dist/parley-VERSION-linux-amd64 and -linux-arm64, and SHA256SUMS.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
mkdir -p dist
rm -f dist/SHA256SUMS
for arch in amd64 arm64; do
  out="dist/parley-$version-linux-$arch"
  echo "building $out" >&2
  CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath \
    -ldflags "-s -w -X main.version=$version -X main.commit=$commit" -o "$out" ./cmd/parley
  (cd dist && sha256sum "$(basename "$out")" >> SHA256SUMS)
done
cat dist/SHA256SUMS
