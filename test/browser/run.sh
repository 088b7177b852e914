#!/usr/bin/env bash
# Browser tests of parley's web client: real headless Chromium and Firefox
# ESR with fake camera and microphone, against a freshly built parley on
# loopback. Each test file starts its own parley.
#
#   test/browser/run.sh                 every test in tests/
#   test/browser/run.sh tests/ui.test.js   just those files
#
# Environment: PARLEY_BIN, PIONPEERS_BIN (skip those builds), BROWSER_SKIP_NPM=1 (reuse
# node_modules), CHROMIUM_BIN, FIREFOX_BIN, PARLEY_LOG_COPY=FILE (a copy of the
# last parley's log, made when it stops).
# The exit status is node's test runner's: non-zero when a test failed.
set -euo pipefail
SUITE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SUITE_DIR/../.." && pwd)
log() { printf 'browser-tests: %s\n' "$*" >&2; }

command -v node >/dev/null || { log "node is required"; exit 1; }
for b in "${CHROMIUM_BIN:-/usr/bin/chromium}" "${FIREFOX_BIN:-/usr/bin/firefox-esr}"; do
	[ -x "$b" ] || { log "$b is missing (apt-get install chromium firefox-esr)"; exit 1; }
done

if [ "${BROWSER_SKIP_NPM:-}" != 1 ] || [ ! -d "$SUITE_DIR/node_modules" ]; then
	log "npm ci"
	(cd "$SUITE_DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/parley-browser-bin.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
if [ -z "${PARLEY_BIN:-}" ]; then
	log "building parley"
	(cd "$REPO_ROOT" && go build -o "$WORK/parley" ./cmd/parley)
	export PARLEY_BIN="$WORK/parley"
fi
if [ -z "${PIONPEERS_BIN:-}" ]; then
	log "building the Pion test peers"
	(cd "$REPO_ROOT" && go build -o "$WORK/pionpeers" ./test/browser/pionpeers)
	export PIONPEERS_BIN="$WORK/pionpeers"
fi

cd "$SUITE_DIR"
if [ "$#" -eq 0 ]; then set -- tests/*.test.js; fi
# One file at a time: two cores cannot run two calls of browsers at once.
node --test --test-reporter=spec --test-concurrency=1 "$@"
