#!/usr/bin/env bash
# W3 and W4 on a Ballista cluster on this machine: a local run against a cluster of one
# one-core executor, then against two, in one sitting, the runs alternating.
#
#   cargo build --release --features cluster
#   benches/cluster.sh [ROWS] [RUNS]        # defaults: 1000000 rows, 5 runs each
#
# Prints one line per run ("<phase> <workload> <where> <seconds>"), then the medians and
# the summary lines' checksums, which must agree between local and cluster runs.
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=${1:-1000000}
RUNS=${2:-5}
H=${HYPERNODES:-target/release/hypernodes}
DIR=${BENCH_DIR:-/tmp/hypernodes-cluster-bench}
PORT=${BENCH_PORT:-52050}
URL=df://127.0.0.1:$PORT
mkdir -p "$DIR/work1" "$DIR/work2"
DATA=$DIR/docs_$ROWS.parquet
[ -f "$DATA" ] || "$H" gen-data --rows "$ROWS" --out "$DATA" >/dev/null

PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true' EXIT
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }
"$H" cluster scheduler --bind 127.0.0.1:$PORT >"$DIR/scheduler.log" 2>&1 & PIDS+=($!)
wait_port $PORT
"$H" cluster executor --scheduler $URL --port $((PORT + 1)) --cores 1 --work-dir "$DIR/work1" >"$DIR/executor1.log" 2>&1 & PIDS+=($!)
wait_port $((PORT + 1))

# Times one run; its summary line goes to $DIR/<label>.summary.
timed() {
  local label=$1; shift
  local start end
  start=$(date +%s.%N)
  "$@" >"$DIR/$label.out" 2>&1 || { cat "$DIR/$label.out" >&2; exit 1; }
  end=$(date +%s.%N)
  tail -1 "$DIR/$label.out" | sed 's/.*checksum/checksum/' >"$DIR/$label.summary"
  echo "$end - $start" | bc
}

phase() {
  local name=$1 where=$2
  for w in text sentences; do
    for _ in $(seq "$RUNS"); do
      echo "$name $w local $(timed "$w-local" "$H" run examples/$w.toml -i "$DATA" -o "$DIR/local.parquet" --no-progress)"
      echo "$name $w $where $(timed "$w-$where" "$H" run examples/$w.toml -i "$DATA" -o "$DIR/cluster.parquet" --no-progress --cluster $URL)"
    done
  done
}

phase A one-executor | tee "$DIR/runs.txt"
"$H" cluster executor --scheduler $URL --port $((PORT + 11)) --cores 1 --work-dir "$DIR/work2" >"$DIR/executor2.log" 2>&1 & PIDS+=($!)
wait_port $((PORT + 11))
sleep 3 # the executor registers with its first heartbeat
phase B two-executors | tee -a "$DIR/runs.txt"

echo "medians (s):"
awk '{ k = $1 " " $2 " " $3; v[k] = v[k] " " $4 } END { for (k in v) print k, v[k] }' "$DIR/runs.txt" | sort |
  while read -r phase w where times; do
    echo "  $phase $w $where $(echo "$times" | tr ' ' '\n' | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }')"
  done
for f in "$DIR"/*.summary; do echo "$(basename "$f" .summary): $(cat "$f")"; done
