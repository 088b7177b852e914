#!/bin/bash
# Where a parley recorder's CPU goes (docs/BENCHMARKS.md, "Recording"): recordbench's setup
# (parley serve, parley load with R rooms of 2 publishers, one parley recorder per room), then
# for 20 s: a CPU profile of recorder 1 (a -tags pprof build), and perf stat (task clock,
# context switches) of recorder 2 (default GOMAXPROCS) and recorder 3 (GOMAXPROCS=1).
#   go build -tags pprof -o /tmp/parley ./cmd/parley
#   ip netns exec NS env PARLEY=/tmp/parley R=4 scripts/recordprof.sh
# Leaves cpu.pb.gz, perfstat2.txt and perfstat3.txt in WORK (default /tmp/recprof).
P=${PARLEY:-./parley}; WORK=${WORK:-/tmp/recprof}; R=${R:-4}
mkdir -p "$WORK" && cd "$WORK" && rm -rf data rec *.log perfstat*.txt cpu.pb.gz
$P serve --listen 127.0.0.1:8080 --c2s 127.0.0.1:5222 --data "$WORK/data" --domain bench.test --public-ip 127.0.0.1 --admin "" > serve.log 2>&1 &
SERVE=$!
sleep 3
$P load --server ws://127.0.0.1:8080/xmpp-websocket --domain bench.test --rooms "$R" --participants 2 --duration 50s --settle 5s --room-prefix rb --json > load.json 2> load.log &
LOAD=$!
sleep 10
PIDS=()
for i in $(seq 1 "$R"); do
  env $([ "$i" = 1 ] && echo PARLEY_PPROF=127.0.0.1:6061) $([ "$i" = 3 ] && echo GOMAXPROCS=1) \
    $P recorder --server ws://127.0.0.1:8080/xmpp-websocket --domain bench.test --room rb$i --dir "$WORK/rec" > rec$i.log 2>&1 &
  PIDS+=($!)
done
sleep 5
PERF=()
for n in 2 3; do
  timeout -s INT 20 perf stat -e task-clock,context-switches,cpu-migrations -p "${PIDS[$((n-1))]}" -o perfstat$n.txt &
  PERF+=($!)
done
go tool pprof -proto -seconds 20 http://127.0.0.1:6061/debug/pprof/profile > cpu.pb.gz 2> pprof.err
wait "${PERF[@]}"
grep -H -E 'task-clock|context-switches' perfstat2.txt perfstat3.txt
for p in "${PIDS[@]}"; do kill -TERM "$p"; done
wait "${PIDS[@]}"
kill $LOAD 2>/dev/null; wait $LOAD 2>/dev/null
kill $SERVE; wait $SERVE 2>/dev/null
echo "profile: go tool pprof -top $P $WORK/cpu.pb.gz"
