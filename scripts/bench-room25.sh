#!/usr/bin/env bash
# One big simulcast room (docs/BENCHMARKS.md, "A 25-person room on two
# cores"): a fresh `parley serve` pinned with taskset, then `parley load
# --rooms 1 --participants P --simulcast --speakers 1` against it, once
# with lastN off and once with --last-n N. Prints each run's summary and a
# table of the figures: the server's CPU per forwarded packet, its egress
# to the subscribers, their loss and freezes. The JSON summaries stay in
# OUT (default: a temporary directory, removed at the end).
#
#   scripts/bench-room25.sh [PARTICIPANTS] [DURATION] [LASTN]
#
# Defaults 25, 30s and 4. SERVER_CPUS (default 0,1) are the cores the
# server is pinned to; LOAD_CPUS, if set, pins the load generator (on a
# 2-core machine it shares the server's; on a larger one give it others:
# SERVER_CPUS=0,1 LOAD_CPUS=2-7).
set -euo pipefail
participants=${1:-25}
duration=${2:-30s}
lastn=${3:-4}
server_cpus=${SERVER_CPUS:-0,1}
work=$(mktemp -d)
out=${OUT:-$work}
mkdir -p "$out"
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/parley" ./cmd/parley
load=("$work/parley")
if [[ -n ${LOAD_CPUS:-} ]]; then
	load=(taskset -c "$LOAD_CPUS" "$work/parley")
fi

# run NAME LASTN: a fresh server, one load run, its JSON in OUT/NAME.json.
run() {
	local name=$1 n=$2
	rm -rf "$work/data"
	taskset -c "$server_cpus" "$work/parley" serve --listen 127.0.0.1:18380 --c2s "" --admin "" \
		--domain localhost --data "$work/data" --public-ip 127.0.0.1 --log-level warn 2>"$work/serve-$name.log" &
	local pid=$!
	until curl -sf -o /dev/null http://127.0.0.1:18380/; do sleep 0.2; done
	echo "== $name: $participants participants, simulcast, lastN $n, server on cores $server_cpus"
	"${load[@]}" load --server ws://127.0.0.1:18380/xmpp-websocket --domain localhost --rooms 1 \
		--participants "$participants" --simulcast --speakers 1 --last-n "$n" --duration "$duration" \
		--settle 60s --server-pid "$pid" --json >"$out/$name.json" || true
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	jq -r '"errors \(.errors) \(.error_samples // [] | join("; "))"' "$out/$name.json"
}

run lastn-off 0
run lastn-on "$lastn"

printf '\n| lastN | forwarded packets/s | server CPU (window) | µs per forwarded packet | server egress | per subscriber (mean / min) | videos per subscriber | loss | freezes | frozen |\n'
printf '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n'
for name in lastn-off lastn-on; do
	jq -r '"| \(if .last_n > 0 then .last_n else "off" end) | \(.recv_packets / .duration_s | floor) | \(.server.cpu_seconds / .duration_s * 100 | round) % of a core | \(.server.cpu_us_per_packet) | \(.egress_kbps / 1000 * 10 | round / 10) Mbit/s | \(.recv_kbps.mean | round) / \(.recv_kbps.min | round) kbit/s | \(.videos_per_subscriber.mean) | \(.loss_pct) % | \(.freezes) | \(.frozen_pct) % |"' "$out/$name.json"
done
