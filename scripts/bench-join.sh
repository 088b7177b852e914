#!/usr/bin/env bash
# Where a browser's join time goes, step by step (docs/BENCHMARKS.md,
# "Join time"): builds parley and runs test/browser/bench/join-time.js,
# which opens a room ROUNDS times (default 8) in Chromium and in Firefox
# beside a Chromium publisher and prints each step's p50 and p90 from the
# page being opened to the first remote frame decoded.
#
# As root it makes a network namespace of its own with a veth pair, as
# scripts/test.sh does, and serves parley on the veth's address
# (10.213.0.2) over HTTPS with a certificate it makes: the UDP path of a
# real deployment. Otherwise parley listens on 127.0.0.1. Run it on an
# otherwise idle machine.
#
#   scripts/bench-join.sh [ROUNDS]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d)
ns=""
cleanup() {
	rm -rf "$work"
	if [ -n "$ns" ]; then ip netns del "$ns" 2>/dev/null || true; fi
}
trap cleanup EXIT
(cd "$root" && go build -o "$work/parley" ./cmd/parley)
(cd "$root/test/browser" && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error >/dev/null; })
cd "$root/test/browser"
run=(env PARLEY_BIN="$work/parley" node bench/join-time.js "${1:-8}")
if [ "$(id -u)" = 0 ] && ip netns add "parley-join-$$" 2>/dev/null; then
	ns="parley-join-$$"
	ip netns exec "$ns" sh -e -c '
		ip link set lo up
		ip link add pv0 type veth peer name pv1
		ip addr add 10.213.0.1/24 dev pv0
		ip addr add 10.213.0.2/24 dev pv1
		ip link set pv0 up
		ip link set pv1 up
		ip route add default dev pv0'
	JOIN_HOST=10.213.0.2 ip netns exec "$ns" "${run[@]}"
else
	"${run[@]}"
fi
