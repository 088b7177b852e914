#!/usr/bin/env bash
# Capacity with separate bridges (docs/BENCHMARKS.md, "Bridges"): parley
# serve with no bridge of its own, N `parley bridge` processes each pinned
# to one core with taskset, and `parley load` (rooms of 5) against them.
# Prints, per run, the load's summary line and each bridge's CPU seconds
# over the whole run.
#
#   scripts/bench-bridges.sh BRIDGES PARTICIPANTS [DURATION]
#
# BRIDGE_CPU=F (a fraction of one core, e.g. 0.25) puts each bridge in a
# cgroup (v1 cpu controller) whose CFS quota is F of a core, instead of
# pinning it: on a 2-core machine a bridge pinned to a core leaves the load
# generator no core of its own, while bridges held to a quarter of a core
# each leave it more than one, so that the bridges, not the load, are what
# runs out. Capacity then grows with the bridge count if placement spreads
# the conferences and nothing else is shared.
set -euo pipefail
bridges=${1:?number of bridges}
participants=${2:?participants (a multiple of 5)}
duration=${3:-20s}
work=$(mktemp -d)
cleanup() {
	kill $(jobs -p) 2>/dev/null || true
	wait 2>/dev/null || true
	for cg in "${cgroups[@]}"; do rmdir "$cg" 2>/dev/null || true; done
	rm -rf "$work"
}
cgroups=()
trap cleanup EXIT
go build -o "$work/parley" ./cmd/parley
printf 'bridge-secret\n' > "$work/pw"
"$work/parley" user add jvb --data "$work/data" --domain localhost < "$work/pw" >/dev/null
# The whole load comes from 127.0.0.1: the front door's per-source limits
# (64 logins in progress per address) are lifted, as scripts/sfu-compare
# does, and the load keeps 8 joins in progress at a time.
"$work/parley" serve --local-bridge=false --listen 127.0.0.1:18180 --c2s "" --admin "" --domain localhost \
	--data "$work/data" --public-ip 127.0.0.1 --log-level warn \
	--admission-unauth-per-source 100000 --admission-guest-per-source 100000 \
	--admission-pending-per-source 100000 --admission-stun-rate -1 \
	--admission-dtls-rate -1 --admission-allocate-rate -1 2>"$work/serve.log" &
sleep 1
pids=()
quota=${BRIDGE_CPU:-}
for i in $(seq 1 "$bridges"); do
	core=$(( (i - 1) % $(nproc) ))
	if [ -n "$quota" ]; then
		cg=/sys/fs/cgroup/cpu/parley-bench-b$i
		mkdir -p "$cg"
		awk -v f="$quota" 'BEGIN { printf "%d\n", f * 100000 }' > "$cg/cpu.cfs_quota_us"
		cgroups+=("$cg")
		pin=(sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg")
	else
		pin=(taskset -c "$core")
	fi
	"${pin[@]}" "$work/parley" bridge --server ws://127.0.0.1:18180/xmpp-websocket --domain localhost \
		--user jvb --password-file "$work/pw" --listen "127.0.0.1:$((18200 + i))" --public-ip 127.0.0.1 \
		--nick "b$i" --log-level warn 2>"$work/b$i.log" &
	pids+=($!)
done
for i in $(seq 1 "$bridges"); do
	until curl -sf "http://127.0.0.1:$((18200 + i))/health" >/dev/null; do sleep 0.2; done
done
sleep 1
cpu() { awk '{print ($14 + $15) / 100}' "/proc/$1/stat"; }
declare -A before
for p in "${pids[@]}"; do before[$p]=$(cpu "$p"); done
( sleep 15; for i in $(seq 1 "$bridges"); do echo "b$i after 15 s: $(curl -s "http://127.0.0.1:$((18200 + i))/health")"; done ) > "$work/mid.txt" &
"$work/parley" load --server ws://127.0.0.1:18180/xmpp-websocket --domain localhost \
	--rooms $((participants / 5)) --participants 5 --duration "$duration" --join-concurrency 8 || true
cat "$work/mid.txt"
for i in $(seq 1 "$bridges"); do
	p=${pids[$((i - 1))]}
	where="core $(( (i - 1) % $(nproc) ))"
	[ -n "$quota" ] && where="$quota of a core"
	echo "b$i ($where): $(echo "$(cpu "$p") - ${before[$p]}" | bc) CPU s over the run"
done
