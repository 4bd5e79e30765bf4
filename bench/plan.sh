#!/usr/bin/env bash
# Whole-process benchmark of `offhours plan --format json` and `offhours validate` on
# generated fleets (examples/fleet.rs), next to CPython's json.load of the same two files.
#
#   bash bench/plan.sh              # 1k, 10k and 100k resources
#   bash bench/plan.sh 1k 10k 100k 1m
#   RUNS=9 bash bench/plan.sh 10k   # more runs per median (default 7)
#
# Builds offhours with the `bench` cargo profile (opt-level 3, no LTO, SDK crates at
# opt-level 0; see Cargo.toml), whose output directory is target/release/; OFFHOURS_BIN=path
# measures another binary instead (e.g. a real `cargo build --release`). Fleets are written
# once to target/fleets/<size>/ (FLEET_DIR). Each round runs plan, validate, a
# `python3 -c 'json.load(...)'` process over the same two files, and json.load timed inside
# Python (no interpreter start-up), one after the other, so that the load of the moment
# weighs on all alike. Prints one markdown row per fleet: medians over the rounds, the
# ratios of plan to both Python figures, and the peak RSS (largest over the rounds).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-7}
FLEETS=${FLEET_DIR:-target/fleets}
AT=2026-11-23T09:05:00+09:00
# The interpreter itself: a pyenv shim in front of it would add its own start-up to every run.
PY=${PYTHON:-$(python3 -c 'import sys; print(sys.executable)')}
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1k 10k 100k)

# The generator is built in the dev profile (the offhours package is at opt-level 2 there):
# an example in the bench profile would rebuild every dependency with the dev-dependencies'
# features (tokio test-util), about half an hour on 2 cores.
cargo build -q --example fleet
GEN=target/debug/examples/fleet
[ -n "${OFFHOURS_BIN:-}" ] || cargo build -q --profile bench --bin offhours
BIN=${OFFHOURS_BIN:-target/release/offhours}

counts() { # size -> "resources schedules"
  case "$1" in
    1k) echo "1000 50" ;;
    10k) echo "10000 500" ;;
    100k) echo "100000 5000" ;;
    1m) echo "1000000 50000" ;;
    *) echo "bench/plan.sh: unknown size '$1' (1k, 10k, 100k, 1m)" >&2; exit 2 ;;
  esac
}

# Runs "$@" once; prints "<wall ms> <peak RSS KiB>".
once() {
  local out t0 t1 rss
  out=$(mktemp)
  if [ -x /usr/bin/time ]; then
    t0=$(date +%s%N)
    /usr/bin/time -f %M -o "$out" "$@" >/dev/null 2>&1 || true
    t1=$(date +%s%N)
    rss=$(tail -n 1 "$out")
  else # no GNU time: the child's ru_maxrss, read by Python after it exits
    t0=$(date +%s%N)
    "$PY" -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$@" >"$out"
    t1=$(date +%s%N)
    rss=$(cat "$out")
  fi
  rm -f "$out"
  echo "$(( (t1 - t0) / 1000000 )) $rss"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2] + a[NR/2+1]) / 2)}'; }
mib() { sort -n | tail -n 1 | awk '{printf "%.1f", $1 / 1024}'; } # the largest of KiB values, in MiB
column() { cut -d' ' -f"$1" "$2"; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; $RUNS runs per median; $BIN; $PY"
echo
echo "| resources / schedules (JSON size) | plan | validate | python json.load (process) | plan / python process | json.load inside python | plan / json.load inside | plan peak RSS | validate peak RSS |"
echo "|---|---|---|---|---|---|---|---|---|"
for size in "${sizes[@]}"; do
  read -r resources schedules < <(counts "$size")
  dir=$FLEETS/$size
  [ -s "$dir/inventory.json" ] || "$GEN" --resources "$resources" --schedules "$schedules" --out "$dir" >/dev/null
  config=$dir/config.json
  inventory=$dir/inventory.json
  # The plan must succeed before it is timed.
  "$BIN" plan --config "$config" --inventory "$inventory" --at "$AT" --format json >/dev/null
  "$BIN" validate --config "$config" >/dev/null
  # One run of each command per round, so that the load of the moment weighs on all alike.
  rounds=$(mktemp -d)
  for ((i = 0; i < RUNS; i++)); do
    once "$BIN" plan --config "$config" --inventory "$inventory" --at "$AT" --format json >>"$rounds/plan"
    once "$BIN" validate --config "$config" >>"$rounds/validate"
    once "$PY" -c 'import json, sys
for p in sys.argv[1:]:
    with open(p) as f: json.load(f)' "$config" "$inventory" >>"$rounds/python"
    "$PY" -c 'import json, sys, time
t = time.perf_counter()
for p in sys.argv[1:]:
    with open(p) as f: json.load(f)
print(int((time.perf_counter() - t) * 1000))' "$config" "$inventory" >>"$rounds/inside"
  done
  plan_ms=$(column 1 "$rounds/plan" | median)
  plan_rss=$(column 2 "$rounds/plan" | mib)
  val_ms=$(column 1 "$rounds/validate" | median)
  val_rss=$(column 2 "$rounds/validate" | mib)
  py_ms=$(column 1 "$rounds/python" | median)
  inside=$(median <"$rounds/inside")
  rm -rf "$rounds"
  ratio=$(awk -v a="$plan_ms" -v b="$py_ms" 'BEGIN {printf "%.2f", a / b}')
  ratio_inside=$(awk -v a="$plan_ms" -v b="$inside" 'BEGIN {printf "%.2f", a / (b > 0 ? b : 1)}')
  mb=$(stat -c %s "$config" "$inventory" | awk '{s += $1} END {printf "%.1f", s / 1048576}')
  echo "| $size / $schedules (${mb} MiB) | ${plan_ms} ms | ${val_ms} ms | ${py_ms} ms | ${ratio} | ${inside} ms | ${ratio_inside} | ${plan_rss} MiB | ${val_rss} MiB |"
done
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
