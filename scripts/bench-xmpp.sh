#!/usr/bin/env bash
# Routed stanzas per second and memory per idle session, parley beside
# Debian's Prosody, same machine, same client load (cmd/xmppbench).
# Usage: bash scripts/bench-xmpp.sh [duration]   (results as JSON lines on stdout)
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-10s}
users=100          # accounts for the routing runs
idle=${IDLE:-2000} # anonymous sessions for the memory run
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
command -v prosody >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prosody >/dev/null; }
go build -o "$tmp/parley" ./cmd/parley
go build -o "$tmp/xmppbench" ./cmd/xmppbench
port=25222
bench() { "$tmp/xmppbench" -addr 127.0.0.1:$port -domain example.test -duration "$dur" "$@"; }

run_all() { # $1 = server name, $2 = pid, $3 = anonymous domain
  echo "# $1"
  bench -mode idle -sessions "$idle" -pid "$2" -anon-domain "$3" | sed "s/^/{\"server\":\"$1\",\"r\":/; s/$/}/"
  bench -mode direct -pairs 50 | sed "s/^/{\"server\":\"$1\",\"r\":/; s/$/}/"
  bench -mode muc -occupants 50 -senders 5 | sed "s/^/{\"server\":\"$1\",\"r\":/; s/$/}/"
}

# --- parley
for i in $(seq 0 $((users-1))); do printf 'bench\n' | "$tmp/parley" user add "bench$i" --data "$tmp/pdata" --domain example.test >/dev/null; done
"$tmp/parley" serve --listen 127.0.0.1:28080 --c2s 127.0.0.1:$port --domain example.test --data "$tmp/pdata" \
  --stanza-rate 1000000 --log-level warn 2>"$tmp/parley.log" &
ppid=$!
for _ in $(seq 50); do curl -fs 127.0.0.1:28080/health >/dev/null && break; sleep 0.2; done
run_all parley $ppid example.test
kill $ppid; wait $ppid 2>/dev/null || true

# --- prosody
mkdir -p "$tmp/prosody/data"
cat >"$tmp/prosody/prosody.cfg.lua" <<CFG
daemonize = false
run_as_root = true
pidfile = "$tmp/prosody/prosody.pid"
data_path = "$tmp/prosody/data"
plugin_paths = {}
modules_enabled = { "roster", "saslauth", "disco", "ping", "presence", "message", "iq" }
modules_disabled = { "s2s", "tls", "posix" }
c2s_ports = { $port }
c2s_interfaces = { "127.0.0.1" }
s2s_ports = {}
http_ports = {}
https_ports = {}
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_hashed"
storage = "internal"
log = { warn = "$tmp/prosody/prosody.log" }
-- No c2s rate limit; PROSODY_NAGLE=false turns Nagle's algorithm off (the
-- default keeps it on; which is faster depends on the load, so the
-- benchmark reports both).
network_settings = { nagle = ${PROSODY_NAGLE:-true} }
limits = { c2s = { rate = "100mb/s" } }
VirtualHost "example.test"
Component "conference.example.test" "muc"
VirtualHost "guest.example.test"
    authentication = "anonymous"
CFG
for i in $(seq 0 $((users-1))); do prosodyctl --config "$tmp/prosody/prosody.cfg.lua" register "bench$i" example.test bench >/dev/null 2>&1; done
prosody --config "$tmp/prosody/prosody.cfg.lua" -F >"$tmp/prosody/out.log" 2>&1 &
xpid=$!
for _ in $(seq 50); do (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.2; done
run_all "prosody(nagle=${PROSODY_NAGLE:-true})" $xpid guest.example.test
kill $xpid; wait $xpid 2>/dev/null || true
