#!/usr/bin/env bash
# Memory after a load: runs `parley serve` with the given extra flags, one
# `parley load` of ROOMS rooms of 5 media participants, and samples the
# server's RSS every 10 s from the end of the load for SECS seconds
# (default 180).
#   go build -o /tmp/parley ./cmd/parley
#   scripts/bench-memory.sh /tmp/parley [serve flags...]
# Prints: the load's summary line (loss, server CPU in the window, peak RSS),
# then "t+SECONDS RSS_MB" lines.
set -euo pipefail
bin=$1; shift
rooms=${ROOMS:-2}
port=${PORT:-18480}
data=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$data"' EXIT
"$bin" serve --listen 127.0.0.1:$port --c2s "" --domain localhost --data "$data" \
  --public-ip 127.0.0.1 --log-level error "$@" & pid=$!
sleep 1
rss() { awk '/VmRSS/ {printf "%.1f", $2/1024}' /proc/$pid/status; }
echo "flags: $* ; rss before load: $(rss) MB"
"$bin" load --server ws://127.0.0.1:$port/xmpp-websocket --domain localhost \
  --rooms "$rooms" --participants 5 --settle 10s --duration 30s --json --server-pid $pid |
  python3 -c 'import json,sys; s=json.load(sys.stdin); v=s.get("server") or {}; print("load: loss %.3f %%, server CPU %.1f s in the window, peak RSS %.0f MB, errors %d" % (s["loss_pct"], v.get("cpu_seconds",0), v.get("peak_rss_mb",0), s["errors"]))' || true
secs=${SECS:-180}
for ((t = 0; t <= secs; t += 10)); do
  echo "t+$t $(rss)"
  [ $t = $secs ] || sleep 10
done
