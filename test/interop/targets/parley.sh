# shellcheck shell=bash
# Target "parley" (the default): the binary from $PARLEY_BIN, or one built
# from the repository. Sourced by run.sh, which provides WORK, HTTP_PORT,
# C2S_PORT, ACCOUNTS, REPO_ROOT and the log/wait helpers.

target_env() {
	XMPP_DOMAIN=example.test
	XMPP_ANON_DOMAIN=example.test
	XMPP_SCRAM256_DOMAIN=example.test
	MUC_DOMAIN=conference.example.test
	XMPP_WS_URL="ws://127.0.0.1:$HTTP_PORT/xmpp-websocket"
	XMPP_TCP_HOST=127.0.0.1
	XMPP_TCP_PORT=$C2S_PORT
	# parley is held to the specs: no deviation is accepted unless named.
	XMPP_KNOWN_DEVIATIONS=${XMPP_KNOWN_DEVIATIONS-}
	SERVER_LOG="$WORK/parley.log"
	# A push app server (XEP-0357) joins as an external component (XEP-0114).
	XMPP_PUSH_DOMAIN=push.example.test
	XMPP_PUSH_SECRET=interop-push-secret-0123456789
	XMPP_COMPONENT_PORT=$COMPONENT_PORT
}

target_setup() {
	if [ -z "${PARLEY_BIN:-}" ]; then
		log "building parley"
		(cd "$REPO_ROOT" && go build -o "$WORK/parley" ./cmd/parley) >"$WORK/build.log" 2>&1 ||
			{ cat "$WORK/build.log" >&2; fail "go build ./cmd/parley failed"; }
		PARLEY_BIN="$WORK/parley"
	fi
	mkdir -p "$WORK/data"
	printf '%s %s\n' "$XMPP_PUSH_DOMAIN" "$XMPP_PUSH_SECRET" >"$WORK/components"
	# Accounts are created before serve starts, so no test races the store.
	local name
	for name in $ACCOUNTS; do
		printf 'secret-%s\n' "$name" |
			"$PARLEY_BIN" user add "$name" --data "$WORK/data" --domain example.test >>"$WORK/setup.log" 2>&1 ||
			{ cat "$WORK/setup.log" >&2; fail "parley user add $name failed"; }
	done
}

target_start() {
	"$PARLEY_BIN" serve --listen "127.0.0.1:$HTTP_PORT" --c2s "127.0.0.1:$C2S_PORT" \
		--domain example.test --data "$WORK/data" --public-ip 127.0.0.1 \
		--upload-url "http://127.0.0.1:$HTTP_PORT/upload/" \
		--components-file "$WORK/components" --component-listen "127.0.0.1:$COMPONENT_PORT" >"$SERVER_LOG" 2>&1 &
	SERVER_PID=$!
	wait_http_ok "http://127.0.0.1:$HTTP_PORT/health"
}
