#!/usr/bin/env bash
# `set weight` latency as an operator sees it (send on the control socket -> reply, which weir
# sends once every worker has applied the change and the state file is written), with weir
# running `workers: 1` and then `workers: 2`, each under a light wrk load when wrk is installed.
#
# Environment (defaults):
#   N=1000           set weight commands per run (after 20 warm-up ones)
#   WRK_CONNS=4      wrk connections for the background load (wrk -t1); WRK=0 runs without load
#   STATE=1          give weir a state_dir, so each change is also fsynced to disk (as in
#                    production); STATE=0 measures the in-memory path alone
#   BUILD=<repo>/build   where weir, weir-demo-upstream and bench/set_weight_latency are
#   KEEP_TMP=1       keep the temp dir (configs and logs)
#
# Builds nothing: run `ninja -C build` first.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
N=${N:-1000}
WRK_CONNS=${WRK_CONNS:-4}
WRK=${WRK:-1}
STATE=${STATE:-1}

die() {
  echo "bench/set_weight_latency.sh: $*" >&2
  exit 1
}
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

for bin in "$BUILD/weir" "$BUILD/weir-demo-upstream" "$BUILD/bench/set_weight_latency"; do
  [[ -x $bin ]] || die "$bin not found; build first: ninja -C ${BUILD#"$ROOT"/}"
done
use_wrk=0
if [[ $WRK != 0 ]]; then
  if command -v wrk >/dev/null 2>&1; then
    use_wrk=1
  else
    log "wrk not installed (apt-get install wrk): measuring without background load"
  fi
fi

TMP=$(mktemp -d /tmp/weir-setweight.XXXXXX)
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [[ ${KEEP_TMP:-0} == 1 ]]; then
    log "kept $TMP"
  else
    rm -rf "$TMP"
  fi
}
trap cleanup EXIT
# Stops one process this script started and forgets it, so cleanup never signals a reused pid.
stop_pid() {
  local pid=$1 sig=${2:-TERM} kept=() p
  kill -"$sig" "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for p in "${PIDS[@]}"; do
    [[ $p == "$pid" ]] || kept+=("$p")
  done
  PIDS=("${kept[@]}")
}
trap 'exit 130' INT TERM

# Waits up to 10 s for a line matching $2 in file $1 and prints it.
wait_line() {
  local file=$1 pattern=$2 i line
  for ((i = 0; i < 200; i++)); do
    line=$(grep -m1 -- "$pattern" "$file" 2>/dev/null || true)
    if [[ -n $line ]]; then
      echo "$line"
      return 0
    fi
    sleep 0.05
  done
  return 1
}

start_upstream() {
  local name=$1
  "$BUILD/weir-demo-upstream" --listen 127.0.0.1:0 --name "$name" >"$TMP/$name.log" 2>&1 &
  PIDS+=($!)
  local line
  line=$(wait_line "$TMP/$name.log" "listening on") || die "$name did not start: $(cat "$TMP/$name.log")"
  echo "${line##*:}"
}

PORT_V1=$(start_upstream app-v1)
PORT_V2=$(start_upstream app-v2)
log "upstreams on 127.0.0.1:$PORT_V1 and 127.0.0.1:$PORT_V2; $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg)"

declare -A RESULT
for workers in 1 2; do
  dir="$TMP/w$workers"
  mkdir -p "$dir/state"
  {
    echo "workers: $workers"
    echo "control:"
    echo "  socket: $dir/control.sock"
    if [[ $STATE != 0 ]]; then echo "state_dir: $dir/state"; fi
    echo "listeners:"
    echo "  - name: public"
    echo "    address: 127.0.0.1:0"
    echo "services:"
    echo "  - namespace: app-v1"
    echo "    name: app"
    echo "    endpoints: [127.0.0.1:$PORT_V1]"
    echo "  - namespace: app-v2"
    echo "    name: app"
    echo "    endpoints: [127.0.0.1:$PORT_V2]"
    echo "routes:"
    echo "  - name: app-route"
    echo "    listener: public"
    echo "    backends:"
    echo "      - service: app-v1/app"
    echo "        weight: 90"
    echo "      - service: app-v2/app"
    echo "        weight: 10"
  } >"$dir/weir.yaml"
  "$BUILD/weir" --config "$dir/weir.yaml" >"$dir/weir.log" 2>&1 &
  weir_pid=$!
  PIDS+=("$weir_pid")
  wait_line "$dir/weir.log" "ready" >/dev/null || die "weir did not start: $(cat "$dir/weir.log")"
  line=$(grep -m1 "weir: listening public" "$dir/weir.log")
  port=${line##*:}
  wrk_pid=
  load="no load"
  if ((use_wrk)); then
    wrk -t1 -c"$WRK_CONNS" -d600s "http://127.0.0.1:$port/" >"$dir/wrk.log" 2>&1 &
    wrk_pid=$!
    PIDS+=("$wrk_pid")
    load="wrk -t1 -c$WRK_CONNS"
    # Let wrk's connections open before measuring.
    sleep 1
  fi
  log "workers: $workers ($load): $N set weight commands"
  out=$("$BUILD/bench/set_weight_latency" --socket "$dir/control.sock" --route app-route \
    --a app-v1/app --b app-v2/app --n "$N") || die "set_weight_latency failed: $out"
  RESULT[$workers]="workers: $workers ($load, state file: $([[ $STATE != 0 ]] && echo fsync || echo off)): $out"
  if [[ -n $wrk_pid ]]; then stop_pid "$wrk_pid"; fi
  stop_pid "$weir_pid"
done

echo
echo "${RESULT[1]}"
echo "${RESULT[2]}"
