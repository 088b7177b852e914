#!/bin/bash
# The end-to-end recording benchmark (docs/BENCHMARKS.md, "Recording"): parley serve,
# parley load (R rooms of 2 publishers) and one parley recorder per room, in a network
# namespace of its own: ip netns exec NS env PARLEY=/path/to/parley R=10 DUR=30 scripts/recordbench.sh
WORK=${WORK:-/tmp/recbench}; mkdir -p "$WORK" && cd "$WORK" && rm -rf data rec *.log
${PARLEY:-./parley} serve --listen 127.0.0.1:8080 --c2s 127.0.0.1:5222 --data ${WORK:-/tmp/recbench}/data --domain bench.test --public-ip 127.0.0.1 --admin "" > serve.log 2>&1 &
SERVE=$!
sleep 3
${PARLEY:-./parley} load --server ws://127.0.0.1:8080/xmpp-websocket --domain bench.test --rooms $R --participants 2 --duration $((DUR+15))s --settle 5s --room-prefix rb --json > load.json 2> load.log &
LOAD=$!
sleep 10
PIDS=()
for i in $(seq 1 $R); do
  ${PARLEY:-./parley} recorder --server ws://127.0.0.1:8080/xmpp-websocket --domain bench.test --room rb$i --dir ${WORK:-/tmp/recbench}/rec > rec$i.log 2>&1 &
  PIDS+=($!)
done
sleep 5
t0() { local s=0; for p in "${PIDS[@]}"; do read -r -a f < /proc/$p/stat; s=$((s + f[13] + f[14])); done; echo $s; }
rss() { local s=0; for p in "${PIDS[@]}"; do r=$(awk '/VmRSS/{print $2}' /proc/$p/status); s=$((s + r)); done; echo $s; }
c0=$(t0); sleep $DUR; c1=$(t0); m=$(rss)
echo "recorders=$R cpu_ticks=$((c1-c0)) over ${DUR}s (CLK_TCK=$(getconf CLK_TCK)) rss_kb_total=$m"
for p in "${PIDS[@]}"; do kill -TERM $p; done
wait "${PIDS[@]}"
kill $LOAD 2>/dev/null; wait $LOAD 2>/dev/null
kill $SERVE; wait $SERVE 2>/dev/null
tail -n 3 rec1.log
