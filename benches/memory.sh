#!/usr/bin/env bash
# The memory bound of a whole `hypernodes run` process, measured from outside: a
# generated Parquet input of about 5 GB (25M rows by default) streams through W3
# (examples/text.toml) with --memory-limit 256M, on both engines, writing the W3 columns
# and then every column (an output larger than the input). Peak resident memory comes
# from /usr/bin/time (the kernel's high-water mark for the process); each result's
# checksum must equal that of a run with no practical limit (8G).
#
#   cargo build --release
#   benches/memory.sh [ROWS] [LIMIT]        # defaults: 25000000 rows, 256M
#
# The bound checked: peak RSS <= LIMIT + OVERHEAD (96 MiB: the process at rest, about
# 47-60 MiB on a 1,000-row run, most of it code, plus the allocator's and the Parquet
# codec's buffers that the limit's accounting does not see). Exits non-zero when a run
# breaks it or a checksum differs. Needs about 3 × the input's size of free disk in
# BENCH_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=${1:-25000000}
LIMIT=${2:-256M}
OVERHEAD_MIB=96
H=${HYPERNODES:-target/release/hypernodes}
DIR=${BENCH_DIR:-/tmp/hypernodes-memory-bench}
mkdir -p "$DIR"
INPUT="$DIR/docs_$ROWS.parquet"
[ -f "$INPUT" ] || "$H" gen-data --rows "$ROWS" --out "$INPUT" >/dev/null
echo "input: $INPUT ($(du -LBM "$INPUT" | cut -f1) on disk, $ROWS rows)"

mib() { # 256M, 2G, 512K -> MiB
  local n=${1%[KMGkmg]} unit=${1: -1}
  case $unit in
    K|k) echo $((n / 1024)) ;; M|m) echo "$n" ;; G|g) echo $((n * 1024)) ;; *) echo $((n / 1048576)) ;;
  esac
}
BOUND=$(($(mib "$LIMIT") + OVERHEAD_MIB))
ALL=id,passage,value,sentences,cleaned_text,word_count,char_count,score

status=0
printf '%-9s %-8s %-6s %9s %10s %10s  %s\n' engine columns limit seconds "peak MiB" "out MiB" checksum
for engine in columnar node; do
  for columns in w3 all; do
    select=()
    [ "$columns" = all ] && select=(--select "$ALL")
    declare -A sums=()
    for limit in "$LIMIT" 8G; do
      out="$DIR/out.parquet"
      /usr/bin/time -f "%e %M" -o "$DIR/time" "$H" run examples/text.toml --no-progress \
        -i "$INPUT" -o "$out" --engine "$engine" --memory-limit "$limit" "${select[@]}" >"$DIR/stdout"
      read -r secs kib <"$DIR/time"
      sum=$(grep -o 'checksum: .*' "$DIR/stdout")
      sums[$limit]=$sum
      peak=$((kib / 1024))
      printf '%-9s %-8s %-6s %9s %10s %10s  %s\n' "$engine" "$columns" "$limit" "$secs" "$peak" \
        "$(($(stat -c %s "$out") / 1048576))" "${sum#checksum: }"
      if [ "$limit" = "$LIMIT" ] && [ "$peak" -gt "$BOUND" ]; then
        echo "  peak $peak MiB is over the bound of $BOUND MiB ($LIMIT + $OVERHEAD_MIB MiB)" >&2
        status=1
      fi
      rm -f "$out"
    done
    if [ "${sums[$LIMIT]}" != "${sums[8G]}" ]; then
      echo "  the checksums differ" >&2
      status=1
    fi
    unset sums
  done
done
exit $status
