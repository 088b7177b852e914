#!/usr/bin/env bash
# XMPP interop suite: runs third-party XMPP clients (@xmpp/client, strophe.js,
# slixmpp) against a server started here on loopback.
#
#   TARGET=parley  (default) test/interop/run.sh   parley from $PARLEY_BIN or a fresh build
#   TARGET=prosody           test/interop/run.sh   Debian's Prosody, as a known-good reference
#
# Environment: PARLEY_BIN, PROSODY_BIN, KEEP_WORK=1 (keep the temp dir even on
# success), INTEROP_SKIP_NPM=1 (reuse node_modules), INTEROP_STEP_TIMEOUT_MS.
# Arguments, if any, are the test files to run (default: tests/*.test.js).
# The output ends with node's test-runner summary; the exit status is node's.
set -euo pipefail

SUITE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SUITE_DIR/../.." && pwd)
TARGET=${TARGET:-parley}
PYTHON=${INTEROP_PYTHON:-/usr/bin/python3}
ACCOUNTS="alice bob carol"
SERVER_PID=""
WORK=""

log() { printf 'interop: %s\n' "$*" >&2; }
fail() {
	log "error: $*"
	exit 1
}

case "$TARGET" in
parley | prosody) ;;
*) fail "unknown TARGET '$TARGET' (want parley or prosody)" ;;
esac

stop_server() {
	[ -n "$SERVER_PID" ] || return 0
	kill -TERM "$SERVER_PID" 2>/dev/null || true
	local i
	for i in $(seq 50); do
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$SERVER_PID" 2>/dev/null || true
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=""
}

cleanup() {
	local status=$?
	stop_server
	if [ -n "$WORK" ]; then
		if [ "$status" = 0 ] && [ "${KEEP_WORK:-}" != 1 ]; then
			rm -rf "$WORK"
		fi
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_ports prints N ports the kernel reports free on 127.0.0.1. Another
# process could take one before the server binds it; the server then fails to
# start and the run fails loudly rather than testing the wrong thing.
free_ports() {
	node -e '
		const net = require("net");
		const n = Number(process.argv[1]); const ports = []; const socks = [];
		(function next() {
			if (ports.length === n) { socks.forEach((s) => s.close()); console.log(ports.join(" ")); return; }
			const s = net.createServer(); socks.push(s);
			s.listen(0, "127.0.0.1", () => { ports.push(s.address().port); next(); });
		})();' "$1"
}

server_died() {
	log "the server exited during startup; last lines of $SERVER_LOG:"
	tail -n 30 "$SERVER_LOG" >&2 2>/dev/null || true
	SERVER_PID=""
	fail "server did not start"
}

# wait_tcp waits up to 20 s for a listener on 127.0.0.1:$1.
wait_tcp() {
	local i
	for i in $(seq 200); do
		kill -0 "$SERVER_PID" 2>/dev/null || server_died
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	fail "nothing listens on 127.0.0.1:$1 after 20 s"
}

# wait_http_ok waits up to 20 s for URL $1 to answer 200.
wait_http_ok() {
	local i
	for i in $(seq 100); do
		kill -0 "$SERVER_PID" 2>/dev/null || server_died
		if curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null; then return 0; fi
		sleep 0.2
	done
	fail "$1 did not answer 200 within 20 s"
}

ensure_node_deps() {
	[ "${INTEROP_SKIP_NPM:-}" = 1 ] && [ -d "$SUITE_DIR/node_modules" ] && return 0
	log "npm ci"
	(cd "$SUITE_DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || fail "npm ci failed"
}

ensure_slixmpp() {
	"$PYTHON" -c 'import slixmpp, aiohttp' 2>/dev/null && return 0
	log "slixmpp or aiohttp missing for $PYTHON; installing python3-slixmpp python3-aiohttp"
	if [ "$(id -u)" = 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y python3-slixmpp python3-aiohttp >/dev/null
	else
		sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y python3-slixmpp python3-aiohttp >/dev/null
	fi || fail "could not install python3-slixmpp python3-aiohttp"
	"$PYTHON" -c 'import slixmpp' || fail "slixmpp still not importable by $PYTHON"
}

command -v node >/dev/null || fail "node is required"
ensure_node_deps
ensure_slixmpp

WORK=$(mktemp -d "${TMPDIR:-/tmp}/parley-interop.XXXXXX")
read -r HTTP_PORT C2S_PORT COMPONENT_PORT < <(free_ports 3)
# shellcheck source=/dev/null
source "$SUITE_DIR/targets/$TARGET.sh"
target_env
target_setup
log "starting $TARGET (http 127.0.0.1:$HTTP_PORT, c2s 127.0.0.1:$C2S_PORT, work dir $WORK)"
target_start
log "server up; its log is $SERVER_LOG (kept when a test fails)"

export XMPP_DOMAIN XMPP_ANON_DOMAIN XMPP_SCRAM256_DOMAIN MUC_DOMAIN XMPP_WS_URL \
	XMPP_TCP_HOST XMPP_TCP_PORT XMPP_KNOWN_DEVIATIONS
# Set by targets that take a push app server as a component (parley).
export XMPP_PUSH_DOMAIN="${XMPP_PUSH_DOMAIN-}" XMPP_PUSH_SECRET="${XMPP_PUSH_SECRET-}" XMPP_COMPONENT_PORT="${XMPP_COMPONENT_PORT-}"
mkdir -p "$WORK/state"
export INTEROP_TARGET=$TARGET INTEROP_PYTHON=$PYTHON INTEROP_STATE_DIR=$WORK/state
cd "$SUITE_DIR"
set +e
if [ "$#" -eq 0 ]; then set -- tests/*.test.js; fi
# --test-force-exit: a socket a client library leaks after a failed login
# must not keep node waiting for the server to time the stream out.
node --test --test-reporter=spec --test-concurrency=1 --test-timeout=30000 --test-force-exit "$@"
status=$?
set -e
stop_server
exit "$status"
