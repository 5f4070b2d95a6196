#!/usr/bin/env bash
# W3 (examples/text.toml) from each input format into Parquet, whole processes, against
# Polars doing the same job from the same CSV (benches/polars_reference.py w3), the runs
# alternating, in one sitting.
#
#   cargo build --release
#   benches/formats.sh [ROWS] [RUNS]        # defaults: 1000000 rows, 5 runs each
#
# Prints one line per run ("<label> <seconds> <peak RSS KiB>"), then per label the
# median time and memory, and the checksum lines of the hypernodes runs, which must agree
# across formats.
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=${1:-1000000}
RUNS=${2:-5}
H=${HYPERNODES:-target/release/hypernodes}
DIR=${BENCH_DIR:-/tmp/hypernodes-formats-bench}
mkdir -p "$DIR"
for ext in parquet csv ndjson arrow; do
  [ -f "$DIR/docs_$ROWS.$ext" ] || "$H" gen-data --rows "$ROWS" --out "$DIR/docs_$ROWS.$ext" >/dev/null
done

# Runs a command under /usr/bin/time; prints "<label> <seconds> <KiB>".
timed() {
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$DIR/$label.time" "$@" >"$DIR/$label.out" 2>"$DIR/$label.err" \
    || { cat "$DIR/$label.err" >&2; exit 1; }
  echo "$label $(cat "$DIR/$label.time")" | tee -a "$DIR/runs.txt"
}

: >"$DIR/runs.txt"
for run in $(seq "$RUNS"); do
  for ext in parquet csv ndjson arrow; do
    timed "hypernodes-$ext" "$H" run examples/text.toml --no-progress \
      -i "$DIR/docs_$ROWS.$ext" -o "$DIR/out-$ext.parquet"
    grep -o 'checksum.*' "$DIR/hypernodes-$ext.out" >"$DIR/hypernodes-$ext.checksum"
  done
  timed polars-csv python3 benches/polars_reference.py w3 "$DIR/docs_$ROWS.csv" "$DIR/out-polars-csv.parquet"
  timed polars-parquet python3 benches/polars_reference.py w3 "$DIR/docs_$ROWS.parquet" "$DIR/out-polars-parquet.parquet"
done

echo "== medians over $RUNS runs ($ROWS rows)"
python3 - "$DIR/runs.txt" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    label, secs, kib = line.split()
    runs.setdefault(label, []).append((float(secs), int(kib)))
for label, values in runs.items():
    t = statistics.median(v[0] for v in values)
    m = statistics.median(v[1] for v in values) / 1024
    print(f"{label:22} {t:6.2f} s ({min(v[0] for v in values):.2f}-{max(v[0] for v in values):.2f})  {m:6.0f} MB")
PY
echo "== checksums"
for ext in parquet csv ndjson arrow; do echo "$ext: $(cat "$DIR/hypernodes-$ext.checksum")"; done
python3 benches/polars_reference.py check "$DIR/out-polars-csv.parquet"
