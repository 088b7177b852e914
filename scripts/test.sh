#!/usr/bin/env bash
# Runs every parley test on a fresh Debian machine: installs what the tests
# need (Debian packages, npm packages), then Go unit, fuzz-corpus and
# integration tests, the web client's JS tests and type check, and the XMPP
# interop suite against a freshly built parley.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

step() { printf '\n=== %s\n' "$*"; }

# --- system packages -------------------------------------------------------
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v firefox-esr >/dev/null 2>&1 || need+=(firefox-esr)
/usr/bin/python3 -c 'import slixmpp' >/dev/null 2>&1 || need+=(python3-slixmpp)
command -v prosody >/dev/null 2>&1 || need+=(prosody)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  step "installing ${need[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # Debian starts prosody as a service on install; our tests run their own.
  $SUDO systemctl stop prosody >/dev/null 2>&1 || $SUDO service prosody stop >/dev/null 2>&1 || true
fi

# --- Go ----------------------------------------------------------------------
step "go vet"
go vet ./...
step "go build"
mkdir -p "$root/.build"
go build -o "$root/.build/parley" ./cmd/parley
step "go test"
go test -count=1 -timeout 20m ./...

# --- web client JS -----------------------------------------------------------
if [ -f web/package.json ]; then
  step "web: npm ci, node tests, type check"
  (cd web && npm ci --no-audit --no-fund --loglevel=error && npm test && npm run typecheck)
fi

# --- XMPP interop ------------------------------------------------------------
if [ -f test/interop/run.sh ]; then
  step "XMPP interop against parley"
  PARLEY_BIN="$root/.build/parley" bash test/interop/run.sh
fi

step "all tests passed"
