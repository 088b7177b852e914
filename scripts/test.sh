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
# Every program a test runs, one line each: "command -v PROGRAM ... ||
# need+=(DEBIAN-PACKAGE)". test/deps reads these lines and fails when a Go or
# JS test starts a program that is not here, so that no test depends on
# something installed by hand.
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v firefox-esr >/dev/null 2>&1 || need+=(firefox-esr)
command -v prosody >/dev/null 2>&1 || need+=(prosody)
command -v prosodyctl >/dev/null 2>&1 || need+=(prosody)
command -v ejabberdctl >/dev/null 2>&1 || need+=(ejabberd)
command -v epmd >/dev/null 2>&1 || need+=(erlang-base)
command -v turnserver >/dev/null 2>&1 || need+=(coturn)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v tc >/dev/null 2>&1 || need+=(iproute2)
command -v getconf >/dev/null 2>&1 || need+=(libc-bin)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
/usr/bin/python3 -c 'import slixmpp' >/dev/null 2>&1 || need+=(python3-slixmpp)
# slixmpp's XEP-0363 plugin uploads with aiohttp (test/interop apps-upload).
/usr/bin/python3 -c 'import aiohttp' >/dev/null 2>&1 || need+=(python3-aiohttp)
# The SIP gateway (-tags sip): libopus through cgo, and sipp as the phones.
command -v gcc >/dev/null 2>&1 || need+=(gcc)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
pkg-config --exists opus >/dev/null 2>&1 || need+=(libopus-dev)
command -v sipp >/dev/null 2>&1 || need+=(sip-tester)
command -v baresip >/dev/null 2>&1 || need+=(baresip-core)
if [ ${#need[@]} -gt 0 ]; then
  step "installing ${need[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # Debian starts prosody, coturn and ejabberd as services on install; our tests run their own.
  for svc in prosody coturn ejabberd; do
    $SUDO systemctl stop "$svc" >/dev/null 2>&1 || $SUDO service "$svc" stop >/dev/null 2>&1 || true
  done
fi

# --- Go ----------------------------------------------------------------------
step "go vet"
go vet ./...
step "go build"
mkdir -p "$root/.build"
go build -o "$root/.build/parley" ./cmd/parley
step "go test"
go test -count=1 -timeout 20m ./...
step "go test -tags sip: the SIP gateway (libopus, sipp)"
go vet -tags sip,nolibopusfile ./cmd/parley/ ./internal/sip/...
go build -tags sip,nolibopusfile -o "$root/.build/parley-sip" ./cmd/parley
go test -count=1 -timeout 10m -tags sip,nolibopusfile ./internal/sip/...

# --- web client JS -----------------------------------------------------------
if [ -f web/package.json ]; then
  step "web: npm ci, node tests, type check"
  (cd web && npm ci --no-audit --no-fund --loglevel=error && npm test && npm run typecheck)
  if [ -f web/tsconfig.client.json ]; then
    (cd web && npx tsc -p tsconfig.client.json)
  fi
fi

# --- a network namespace for the tests that play with the network -------------
# Browsers, and the firewall tests (which add blackhole routes and veth pairs
# of their own), run in a namespace that has only loopback and a private veth
# pair: nothing they do can touch the host's network or any other address.
ns=""
if [ "$(id -u)" = 0 ] && command -v ip >/dev/null 2>&1 && ip netns add "parley-test-$$" 2>/dev/null; then
  ns="parley-test-$$"
  trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
  # A veth pair of the namespace's own so that browsers see a non-loopback
  # interface and a default route (Firefox's ICE wants one); nothing leaves
  # the namespace.
  ip netns exec "$ns" sh -e -c '
    ip link set lo up
    ip link add pv0 type veth peer name pv1
    ip addr add 10.213.0.1/24 dev pv0
    ip addr add 10.213.0.2/24 dev pv1
    ip link set pv0 up
    ip link set pv1 up
    ip route add default dev pv0'
fi

# --- firewall scenarios with Pion peers (network namespaces) -----------------
step "go test -tags netns: UDP blocked, relay only, path cut (Pion peers)"
if [ -z "$ns" ]; then
  echo "the firewall tests need root and iproute2 (ip netns); run this script as root" >&2
  exit 1
fi
ip netns exec "$ns" go test -count=1 -timeout 10m -tags netns -run Netns ./internal/app/ ./test/p2pcall/

# --- XMPP interop ------------------------------------------------------------
if [ -f test/interop/run.sh ]; then
  step "XMPP interop against parley"
  PARLEY_BIN="$root/.build/parley" bash test/interop/run.sh
fi

# --- browsers ------------------------------------------------------------------
# Real headless Chromium and Firefox against parley, in the namespace above:
# no browser (nor parley answering its candidates) can touch any other address.
if [ -f test/browser/run.sh ]; then
  step "browser tests (Chromium, Firefox)"
  (cd test/browser && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  go build -o "$root/.build/pionpeers" ./test/browser/pionpeers
  export BROWSER_SKIP_NPM=1 PARLEY_BIN="$root/.build/parley" PIONPEERS_BIN="$root/.build/pionpeers" PARLEY_SIP_BIN="$root/.build/parley-sip"
  ip netns exec "$ns" bash test/browser/run.sh
fi

step "all tests passed"
