#!/usr/bin/env bash
# Request mirroring side by side (issue 15): what sending a copy of 10 % of a route's requests to
# a mirror costs the clients, with a mirror that is slow (200 ms) and one that is down, in weir
# and in nginx, in one run, beside the same proxies without a mirror (and HAProxy, which has no
# built-in mirroring: its line is a no-mirror baseline only). Every round runs every target (the
# order rotates each round); every figure is the median over ROUNDS. An acceptance block checks
# issue 15's words for weir: mirroring adds no failed client requests and p99 stays within +10 %
# of the same proxy without a mirror.
#
# Targets, each its own process pinned to PROXY_CPU with 1 worker, all in front of the same
# upstream (weir-demo-upstream "app"):
#   weir, nginx, haproxy   no mirror
#   weir-slow, nginx-slow  10 % mirrored to a weir-demo-upstream with --delay-ms MIRROR_DELAY_MS
#   weir-down, nginx-down  10 % mirrored to a port nothing listens on (connection refused)
# weir: `mirror: {service, percent: 10%, max_in_flight: MIRROR_MAX_IN_FLIGHT}` on the route
# (max_in_flight raised from its default 64 so that a 200 ms mirror gets the whole 10 % at the
# rates measured here, as nginx's does; MIRROR_MAX_IN_FLIGHT=64 measures the default). nginx:
# `mirror /_mirror;` on the location (nginx mirrors every request) and a split_clients on
# "$connection-$connection_requests" (a hash of a string unique per request; $request_id would
# cost a getpid per request, OpenSSL's fork check) that lets 10 % of the subrequests through to
# the mirror; the other 90 % end in the mirror location with `return 204` and never leave nginx. Both mirrors keep their connections
# to the mirror alive; both add `x-weir-mirror: 1`, so the slow mirror counts what it gets.
#
# Loads (wrk -t1 on CLIENT_CPU, with the upstreams):
#   paced  CONNS connections, each waiting PACE_MS between its requests (a wrk Lua `delay`; wrk
#          has no rate limit and wrk2 is not in Debian): about RATE req/s offered, well below any
#          target's capacity, so p99 is the latency a request gets, not a queue. The acceptance
#          figures come from this load.
#   max    the same CONNS connections without pause (closed loop, saturating the proxy's core):
#          req/s and CPU per request at full load; p99 here is mostly queueing behind the CPU
#          work, including the mirror thread's, which shares the core.
# CPU us per request: utime+stime of the proxy (all threads; nginx: master + worker) from
# /proc/PID/stat around the measured run, / the requests wrk completed. Syscalls per request:
# strace -c -f attached to the proxy (nginx: its worker) over SYSCALL_DURATION of the max load,
# a separate run per target (strace slows the proxy down; calls per request is the figure).
# "mirrored" is the share of the client requests the slow mirror received during the run
# (its /counts, requests carrying x-weir-mirror). "preempt/1k": involuntary context switches of
# the proxy's threads (all of them; nginx: master + worker) per 1,000 requests, from
# /proc/PID/task/*/status: how often a thread that could run had to give its CPU to another task.
# It moves far less with a noisy machine than p99 does, and shows a mirror thread that takes the
# core from the worker it shares it with.
#
# Environment (defaults):
#   LOADS=paced,max     which loads to run (the acceptance block needs paced)
#   ROUNDS=3            every figure is the median over them
#   DURATION=5s         wrk duration of each measurement
#   WARMUP=1s           wrk warm-up before a target's first load in a round (not counted)
#   CONNS=16            wrk connections (both loads and strace)
#   RATE=4000           paced load's offered req/s (PACE_MS = CONNS * 1000 / RATE, whole ms)
#   SYSCALL_DURATION=2s wrk duration under strace (PARTS without syscalls: SYSCALL_DURATION=0)
#   MIRROR_DELAY_MS=200 the slow mirror's delay
#   MIRROR_MAX_IN_FLIGHT=1000  weir's mirror max_in_flight (weir's default is 64)
#   BASE_PORT           ports BASE_PORT+1..+3 (app, slow mirror, the down port, which must stay
#                       free), +11..+17 (proxies), +31..+33 (weir admin listeners) on 127.0.0.1
#                       (default: first free block from 25000)
#   PROXY_CPU=0 CLIENT_CPU=1
#   NICE=N              run everything it starts with nice -n N (e.g. -10 as root), and give
#                       this session's autogroup nice N for the run (see below)
#   BUILD=<repo>/build  where weir and weir-demo-upstream are
#   COMMIT=TEXT         the commit the report names (default: this checkout's HEAD)
#   OUT=FILE            also write the final report to FILE
#   KEEP_TMP=1          keep the temp dir (configs, logs, raw wrk and strace output, metrics)
#
# Needs: wrk, nginx (with its mirror and split_clients modules, as Debian's are), haproxy, strace,
# taskset, ss, and build/weir + build/weir-demo-upstream. Builds and installs nothing itself.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=bench/mirror.sh
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

BUILD=${BUILD:-$ROOT/build}
LOADS=${LOADS:-paced,max}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
WARMUP=${WARMUP:-1s}
CONNS=${CONNS:-16}
RATE=${RATE:-4000}
SYSCALL_DURATION=${SYSCALL_DURATION:-2s}
MIRROR_DELAY_MS=${MIRROR_DELAY_MS:-200}
MIRROR_MAX_IN_FLIGHT=${MIRROR_MAX_IN_FLIGHT:-1000}
BASE_PORT=${BASE_PORT:-}
PROXY_CPU=${PROXY_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}

TARGETS=(weir weir-slow weir-down nginx nginx-slow nginx-down haproxy)
# The unmirrored target each mirrored one is compared with.
declare -A BASE_OF=([weir-slow]=weir [weir-down]=weir [nginx-slow]=nginx [nginx-down]=nginx)
has_load() { [[ ,$LOADS, == *",$1,"* ]]; }
RUN_LOADS=()
for l in ${LOADS//,/ }; do
  [[ $l =~ ^(paced|max)$ ]] || die "unknown load '$l' in LOADS (paced, max)"
done
for l in paced max; do has_load "$l" && RUN_LOADS+=("$l"); done
((${#RUN_LOADS[@]})) || die "LOADS is empty"
((ROUNDS >= 1)) || die "ROUNDS must be at least 1"
((CONNS >= 1 && RATE >= 1)) || die "CONNS and RATE must be positive"
PACE_MS=$(((CONNS * 1000 + RATE / 2) / RATE))
((PACE_MS >= 1)) || PACE_MS=1
OFFERED=$((CONNS * 1000 / PACE_MS))

# --- prerequisites ---------------------------------------------------------------------------
missing=()
for tool in wrk nginx haproxy taskset ss strace; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
((${#missing[@]} == 0)) ||
  die "missing: ${missing[*]}; install with: apt-get install wrk nginx-light haproxy strace util-linux iproute2"
for bin in "$BUILD/weir" "$BUILD/weir-demo-upstream"; do
  [[ -x $bin ]] || die "$bin not found; build first: ninja -C ${BUILD#"$ROOT"/} weir weir-demo-upstream"
done
NGINX_BUILD=$(nginx -V 2>&1)
for m in mirror split_clients; do
  [[ $NGINX_BUILD != *"--without-http_${m}_module"* ]] || die "this nginx is built without its $m module"
done
ncpu=$(nproc)
if ((ncpu < 2)); then
  log "warning: $ncpu CPU; proxy and client share it, numbers are not comparable"
  PROXY_CPU=0 CLIENT_CPU=0
fi
PROXY_PRIO=()
[[ -n ${NICE:-} ]] && PROXY_PRIO=(nice -n "$NICE")
CLIENT_PIN=("${PROXY_PRIO[@]}" taskset -c "$CLIENT_CPU")
# With sched_autogroup_enabled (the default of most distributions' kernels) a nice value only
# ranks tasks inside their session's autogroup; between sessions every autogroup weighs the same,
# so `nice -n -10` alone leaves the proxy sharing its core half and half with another session's
# compiler (measured here: weir at 20k req/s using 53 % of CPU 0, 33-36k with the autogroup's nice
# set too). With NICE set, the autogroup of this script's session gets it as well (root only; put
# back on exit).
AUTOGROUP_NICE_BEFORE=""
if [[ -n ${NICE:-} && $(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null) == 1 ]]; then
  AUTOGROUP_NICE_BEFORE=$(awk '{ print $NF }' /proc/self/autogroup 2>/dev/null)
  if ! echo "$NICE" 2>/dev/null >/proc/self/autogroup; then
    log "note: cannot set this session's autogroup nice (not root?): NICE ranks only inside it"
    AUTOGROUP_NICE_BEFORE=""
  fi
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)

set_ports() {
  PORT_APP=$(($1 + 1)) PORT_SLOW=$(($1 + 2)) PORT_DOWN=$(($1 + 3))
  declare -gA PORT_OF=([weir]=$(($1 + 11)) [weir-slow]=$(($1 + 12)) [weir-down]=$(($1 + 13))
    [nginx]=$(($1 + 14)) [nginx-slow]=$(($1 + 15)) [nginx-down]=$(($1 + 16)) [haproxy]=$(($1 + 17)))
  declare -gA ADMIN_OF=([weir]=$(($1 + 31)) [weir-slow]=$(($1 + 32)) [weir-down]=$(($1 + 33)))
}
ports_free() {
  local port
  for port in "$PORT_APP" "$PORT_SLOW" "$PORT_DOWN" "${PORT_OF[@]}" "${ADMIN_OF[@]}"; do
    port_free "$port" || return 1
  done
}
choose_port_block 25000 33

TMP=$(mktemp -d /tmp/weir-bench-mirror.XXXXXX)
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  bench_cleanup
  if [[ -n $AUTOGROUP_NICE_BEFORE ]]; then echo "$AUTOGROUP_NICE_BEFORE" >/proc/self/autogroup 2>/dev/null || true; fi
  if [[ ${KEEP_TMP:-0} == 1 || $rc != 0 ]]; then
    echo "$BENCH_NAME: configs and logs kept in $TMP" >&2
  else
    rm -rf "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- configs ---------------------------------------------------------------------------------
# The mirror's address of a target ("" none).
mirror_of() {
  case $1 in
  *-slow) echo "127.0.0.1:$PORT_SLOW" ;;
  *-down) echo "127.0.0.1:$PORT_DOWN" ;;
  *) echo "" ;;
  esac
}

# write_weir_mirror_conf FILE TARGET
write_weir_mirror_conf() {
  local t=$2 mirror mirror_service="" mirror_line=""
  mirror=$(mirror_of "$t")
  if [[ -n $mirror ]]; then
    mirror_service="  - namespace: mirror
    name: target
    endpoints: [$mirror]"
    mirror_line="    mirror: { service: mirror/target, percent: 10%, max_in_flight: $MIRROR_MAX_IN_FLIGHT }"
  fi
  cat >"$1" <<EOF
workers: 1
admin:
  address: 127.0.0.1:${ADMIN_OF[$t]}
limits:
  max_client_connections: 2000
listeners:
  - name: bench
    address: 127.0.0.1:${PORT_OF[$t]}
services:
  - namespace: app
    name: app
    endpoints: [127.0.0.1:$PORT_APP]
    max_idle_connections: 64
$mirror_service
routes:
  - name: main
    listener: bench
    backends:
      - service: app/app
$mirror_line
    timeouts:
      idle: 300s
drain_timeout: 0s
EOF
}

# write_nginx_mirror_conf FILE PREFIX_DIR TARGET
# nginx's mirror module makes a subrequest to /_mirror for every request of the location; the
# split_clients value decides there whether it goes on to the mirror (10 %) or ends at once.
# nginx logs every refused connection of the down mirror at level error on the client
# connection's log (the server's error_log; a location's does not apply): one write per mirrored
# request, part of what the down mirror costs nginx.
write_nginx_mirror_conf() {
  local file=$1 dir=$2 t=$3 mirror m user="" temp_paths mirror_http="" mirror_on="" mirror_loc=""
  mirror=$(mirror_of "$t")
  mkdir -p "$dir"
  temp_paths="client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;"
  for m in fastcgi scgi uwsgi; do
    [[ $NGINX_BUILD == *"--without-http_${m}_module"* ]] || temp_paths+="
  ${m}_temp_path $dir/$m;"
  done
  [[ $(id -u) == 0 ]] && user="user root;"
  if [[ -n $mirror ]]; then
    mirror_http="split_clients \"\${connection}-\${connection_requests}\" \$mirror_sampled {
    10% 1;
    * \"\";
  }
  upstream mirror {
    server $mirror;
    keepalive $MIRROR_MAX_IN_FLIGHT;
    keepalive_requests 1000000;
  }"
    mirror_on="mirror /_mirror;"
    mirror_loc="location = /_mirror {
      internal;
      if (\$mirror_sampled = \"\") {
        return 204;
      }
      proxy_pass http://mirror\$request_uri;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_set_header X-Weir-Mirror 1;
    }"
  fi
  cat >"$file" <<EOF
$user
worker_processes 1;
worker_rlimit_nofile $NOFILE;
daemon off;
master_process on;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events {
  worker_connections 10000;
}
http {
  access_log off;
  keepalive_timeout 300s;
  keepalive_requests 1000000;
  $temp_paths
  upstream app {
    server 127.0.0.1:$PORT_APP;
    keepalive 64;
    keepalive_requests 1000000;
  }
  $mirror_http
  server {
    listen 127.0.0.1:${PORT_OF[$t]};
    location / {
      $mirror_on
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_max_temp_file_size 0;
    }
    $mirror_loc
  }
}
EOF
}

# write_haproxy_mirror_conf FILE TARGET
write_haproxy_mirror_conf() {
  cat >"$1" <<EOF
global
  nbthread 1
  maxconn 2000
  no strict-limits
defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 1s
  timeout client 300s
  timeout server 30s
  timeout http-keep-alive 300s
frontend bench
  bind 127.0.0.1:${PORT_OF[$2]}
  default_backend app
backend app
  server app 127.0.0.1:$PORT_APP
EOF
}

# start_target TARGET: writes its config, starts it pinned to PROXY_CPU and registers it (the
# registry of bench/lib.sh: TARGET_PORT, CPU_PIDS, TRACE_PIDS, BENCH_PIDS).
start_target() {
  local t=$1 pid log_file pin=("${PROXY_PRIO[@]}" taskset -c "$PROXY_CPU")
  case $t in
  weir*)
    write_weir_mirror_conf "$TMP/$t.yaml" "$t"
    log_file=$TMP/$t.log
    "${pin[@]}" "$BUILD/weir" --config "$TMP/$t.yaml" >"$log_file" 2>&1 &
    pid=$!
    CPU_PIDS[$t]=$pid TRACE_PIDS[$t]=$pid
    ;;
  nginx*)
    write_nginx_mirror_conf "$TMP/$t.conf" "$TMP/$t" "$t"
    log_file=$TMP/$t/error.log
    "${pin[@]}" nginx -p "$TMP/$t" -c "$TMP/$t.conf" -e "$log_file" >"$TMP/$t.log" 2>&1 &
    pid=$!
    ;;
  haproxy)
    write_haproxy_mirror_conf "$TMP/$t.cfg" "$t"
    log_file=$TMP/$t.log
    "${pin[@]}" haproxy -db -f "$TMP/$t.cfg" >"$log_file" 2>&1 &
    pid=$!
    CPU_PIDS[$t]=$pid TRACE_PIDS[$t]=$pid
    ;;
  esac
  BENCH_PIDS+=("$pid")
  TARGET_PORT[$t]=${PORT_OF[$t]}
  wait_port "$pid" "${PORT_OF[$t]}" "$t" "$log_file"
  if [[ $t == nginx* ]]; then
    local workers
    workers=$(children_of "$pid" 1)
    CPU_PIDS[$t]="$pid $workers" TRACE_PIDS[$t]=$workers
  fi
}

# Body of one GET $2 on 127.0.0.1:$1 (bash's /dev/tcp; the answers read here are small).
body_of() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'GET %s HTTP/1.1\r\nHost: bench.local\r\nConnection: close\r\n\r\n' "$2" >&3
    timeout 5 cat <&3 | tr -d '\r' | sed '1,/^$/d'
  ) 2>/dev/null || true
}
status_of() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'GET / HTTP/1.1\r\nHost: bench.local\r\nConnection: close\r\n\r\n' >&3
    IFS= read -r -t 5 line <&3 && echo "${line%$'\r'}"
  ) 2>/dev/null || echo "no answer"
}
# Requests the slow mirror got that carry x-weir-mirror (its /counts: "with N").
mirror_received() { body_of "$PORT_SLOW" /counts | awk '$1 == "with" { print $2 }'; }

# --- upstreams and proxies -------------------------------------------------------------------
port_free "$PORT_DOWN" || die "the down mirror's port $PORT_DOWN is in use"
log "starting upstreams on CPU $CLIENT_CPU: app :$PORT_APP, slow mirror :$PORT_SLOW (${MIRROR_DELAY_MS} ms); down mirror :$PORT_DOWN (nothing listens)"
"${CLIENT_PIN[@]}" "$BUILD/weir-demo-upstream" --listen "127.0.0.1:$PORT_APP" --name app \
  >"$TMP/app.log" 2>&1 &
BENCH_PIDS+=($!)
wait_port $! "$PORT_APP" app "$TMP/app.log"
"${CLIENT_PIN[@]}" "$BUILD/weir-demo-upstream" --listen "127.0.0.1:$PORT_SLOW" --name mirror \
  --delay-ms "$MIRROR_DELAY_MS" --count-header x-weir-mirror >"$TMP/mirror.log" 2>&1 &
BENCH_PIDS+=($!)
wait_port $! "$PORT_SLOW" mirror "$TMP/mirror.log"

for t in "${TARGETS[@]}"; do
  log "starting $t (1 worker) on CPU $PROXY_CPU :${PORT_OF[$t]}"
  start_target "$t"
done
WEIR_BACKEND=$(grep -o 'ready, io [a-z_]*' "$TMP/weir.log" 2>/dev/null | awk '{print $3}')
WEIR_BACKEND=${WEIR_BACKEND:-unknown}

# Every target answers 200, and every mirroring one reaches the slow mirror, before anything is
# measured (20 requests each: weir's credit mirrors exactly two, nginx's draw about two).
for t in "${TARGETS[@]}"; do
  line=$(status_of "${PORT_OF[$t]}")
  [[ $line == "HTTP/1.1 200 "* ]] || die "$t answered '$line' instead of 200"
  [[ $t == *-slow ]] || continue
  before=$(mirror_received)
  for _ in $(seq 60); do status_of "${PORT_OF[$t]}" >/dev/null; done
  sleep "$(awk -v d="$MIRROR_DELAY_MS" 'BEGIN { print d / 1000 + 0.5 }')"
  after=$(mirror_received)
  ((after > before)) || die "$t sent nothing to the slow mirror in 60 requests"
done

# wrk's pacing: every connection waits PACE_MS before each request (wrk's latency clock starts
# when the request is written, after the wait).
cat >"$TMP/paced.lua" <<EOF
function delay()
  return $PACE_MS
end
EOF

rotated() {
  local r=$1
  shift
  local n=$# i
  local items=("$@")
  for ((i = 0; i < n; i++)); do echo "${items[$(((i + r) % n))]}"; done
}

# Involuntary context switches of every thread of the given processes (the times one was
# preempted, runnable, by another task on its CPU).
preemptions() {
  local pid
  for pid in "$@"; do cat /proc/"$pid"/task/*/status 2>/dev/null; done |
    awk '/^nonvoluntary_ctxt_switches:/ { n += $2 } END { print n + 0 }'
}

# measure TARGET LOAD: one wrk run of DURATION, the target's CPU time, its threads' preemptions
# and the slow mirror's count read around it. Sets W_RPS W_P50 W_P99 W_ERRS W_REQS W_CPU
# (us/request) W_PRE (preemptions per 1,000 requests) W_MIRRORED (share of the requests the slow
# mirror got, "nan" for other targets) and W_OUT.
measure() {
  local t=$1 load=$2 before after pre_before pre_after m_before=0 m_after=0 args=()
  if [[ $load == paced ]]; then args=(-s "$TMP/paced.lua"); fi
  if [[ $t == *-slow ]]; then m_before=$(mirror_received); fi
  # shellcheck disable=SC2086 # CPU_PIDS holds a list of pids
  before=$(cpu_ticks ${CPU_PIDS[$t]})
  # shellcheck disable=SC2086
  pre_before=$(preemptions ${CPU_PIDS[$t]})
  W_OUT=$("${CLIENT_PIN[@]}" wrk -t1 -c"$CONNS" -d"$DURATION" --latency "${args[@]}" \
    "http://127.0.0.1:${PORT_OF[$t]}/" 2>&1) || die "wrk against $t failed: $W_OUT"
  # shellcheck disable=SC2086
  after=$(cpu_ticks ${CPU_PIDS[$t]})
  # shellcheck disable=SC2086
  pre_after=$(preemptions ${CPU_PIDS[$t]})
  if [[ $t == *-slow ]]; then m_after=$(mirror_received); fi
  read -r W_RPS W_P50 W_P99 W_ERRS W_REQS _ <<<"$(parse_wrk <<<"$W_OUT")"
  W_CPU=nan W_MIRRORED=nan W_PRE=nan
  if ((W_REQS > 0)); then
    W_PRE=$(awk -v d="$((pre_after - pre_before))" -v n="$W_REQS" 'BEGIN { printf "%.1f\n", 1000 * d / n }')
    W_CPU=$(awk -v b="$before" -v a="$after" -v n="$W_REQS" -v hz="$CLK_TCK" 'BEGIN {
      split(b, x, " "); split(a, y, " ")
      printf "%.2f\n", (y[1] + y[2] - x[1] - x[2]) * 1e6 / hz / n }')
    if [[ $t == *-slow ]]; then
      W_MIRRORED=$(awk -v m="$((m_after - m_before))" -v n="$W_REQS" 'BEGIN { printf "%.2f\n", 100 * m / n }')
    fi
  fi
}

declare -A R=() ERRS=()
add() { R[$1]+=" $2"; }
med() { median <<<"${R[$1]:-}"; }
record() { # record LOAD TARGET
  local k=$1:$2
  add "$k:rps" "$W_RPS"
  add "$k:p50" "$W_P50"
  add "$k:p99" "$W_P99"
  add "$k:cpu" "$W_CPU"
  add "$k:pre" "$W_PRE"
  add "$k:mirrored" "$W_MIRRORED"
  ERRS[$k]=$((${ERRS[$k]:-0} + W_ERRS))
  echo "$W_OUT" >>"$TMP/wrk-$1-$2.txt"
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
weir_version=$("$BUILD/weir" --version 2>&1 | awk 'NR == 1')
weir_built=$(date -u -r "$BUILD/weir" '+%Y-%m-%d %H:%M UTC')
dirty=""
if [[ -n ${COMMIT:-} ]]; then
  commit=$COMMIT
elif [[ $(realpath "$BUILD") != "$ROOT"/* ]]; then
  commit="unknown (set COMMIT for a build dir outside this checkout)"
else
  commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
  [[ -n $(git -C "$ROOT" status --porcelain --untracked-files=no -- . ':!bench' 2>/dev/null) ]] &&
    dirty=" + uncommitted changes"
fi
log "load average at start: $load_start; loads: ${RUN_LOADS[*]} (paced: $CONNS connections, $PACE_MS ms apart = $OFFERED req/s offered)"

# --- the measurements ----------------------------------------------------------------------------
for ((r = 0; r < ROUNDS; r++)); do
  for t in $(rotated "$r" "${TARGETS[@]}"); do
    "${CLIENT_PIN[@]}" wrk -t1 -c"$CONNS" -d"$WARMUP" "http://127.0.0.1:${PORT_OF[$t]}/" >/dev/null 2>&1 || true
    for load in "${RUN_LOADS[@]}"; do
      measure "$t" "$load"
      record "$load" "$t"
      note=""
      [[ $W_MIRRORED == nan ]] || note+="  mirrored $W_MIRRORED%"
      ((W_ERRS == 0)) || note+="  ($W_ERRS errors)"
      log "round $((r + 1))/$ROUNDS $(printf '%-5s %-10s' "$load" "$t") $(printf '%7s' "$W_RPS") req/s" \
        " p50 $(fmt_us "$W_P50")  p99 $(fmt_us "$W_P99")  cpu $W_CPU us/req  preempted $W_PRE/1k$note"
    done
  done
done

# --- syscalls per request (one strace run per target, max load) --------------------------------
SYS_ON=0
if [[ $SYSCALL_DURATION != 0 ]]; then
  SYS_ON=1
  for t in "${TARGETS[@]}"; do
    out=$TMP/strace-$t.txt
    wrk_under_strace "$out" "${TRACE_PIDS[$t]}" "$t" "${CLIENT_PIN[@]}" wrk -t1 -c"$CONNS" \
      -d"$SYSCALL_DURATION" "http://127.0.0.1:${PORT_OF[$t]}/"
    total=$(parse_strace "$out" | awk '$3 == "total" { print $1 }')
    R[sys:$t]=$(ratio "$total" "$W_REQS")
    R[systop:$t]=$(parse_strace "$out" | awk -v n="$W_REQS" '$3 != "total" { printf "%.3f %s\n", $1 / n, $3 }' |
      sort -rg | awk '$1 >= 0.005' | head -n 6 | awk '{ printf "%s%.2f %s", (NR > 1 ? ", " : ""), $1, $2 }')
    log "syscalls $(printf '%-10s' "$t") ${R[sys:$t]} per request ($total calls, $W_REQS requests under strace)"
  done
fi

# weir's own count of what its mirror did, over the whole run.
for t in weir-slow weir-down; do
  body_of "${ADMIN_OF[$t]}" /metrics >"$TMP/metrics-$t.txt"
done
mirror_counts() {
  awk '/^weir_mirror_(requests|dropped)_total\{/ {
      name = $1; sub(/\{.*/, "", name); sub(/^weir_mirror_/, "", name); sub(/_total$/, "", name)
      key = ""
      if (match($1, /result="[^"]*"/)) key = substr($1, RSTART + 8, RLENGTH - 9)
      if (match($1, /reason="[^"]*"/)) key = substr($1, RSTART + 8, RLENGTH - 9)
      if ($2 + 0 > 0) n[name " " key] += $2
    }
    END { for (k in n) printf "%s %d\n", k, n[k] }' "$1" | sort |
    awk '{ printf "%s%s %s=%d", (NR > 1 ? ", " : ""), $1, $2, $3 }'
}

# --- report ------------------------------------------------------------------------------------
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
fmt() { awk -v v="$1" -v f="$2" 'BEGIN { if (v == "nan" || v == "" || v == "n/a") print "-"; else printf f "\n", v }'; }
pass() { awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN {
  if (a == "nan" || b == "nan" || a == "" || b == "" || a == "n/a" || b == "n/a") { print "n/a"; exit }
  ok = (op == "<=") ? (a + 0 <= b + 0) : (a + 0 >= b + 0); print ok ? "PASS" : "FAIL" }'; }
p99_ratio() { # LOAD TARGET: p99 of TARGET / p99 of its unmirrored proxy
  local base=${BASE_OF[$2]:-}
  [[ -n $base ]] || {
    echo -
    return
  }
  ratio "$(med "$1:$2:p99")" "$(med "$1:$base:p99")" '%.2fx'
}
{
  echo "weir request mirroring side by side, $started, $(uname -r), $ncpu CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'))"
  echo "weir: $weir_version, $BUILD/weir built $weir_built, tree at $commit$dirty, io $WEIR_BACKEND"
  echo "$(haproxy -v 2>&1 | awk 'NR == 1 {print "HAProxy " $3}'), $(nginx -v 2>&1 | sed 's/^nginx version: //'), $(wrk -v 2>&1 | awk 'NR == 1 {print "wrk " $2}'), strace $(strace -V | awk 'NR == 1 {print $4}')"
  echo "each proxy 1 worker on CPU $PROXY_CPU; wrk + upstream + slow mirror on CPU $CLIENT_CPU${NICE:+; nice $NICE}${AUTOGROUP_NICE_BEFORE:+ (also the autogroup)}"
  echo "mirror 10%: slow = weir-demo-upstream --delay-ms $MIRROR_DELAY_MS, down = 127.0.0.1:$PORT_DOWN (refused); weir max_in_flight $MIRROR_MAX_IN_FLIGHT"
  echo "median of $ROUNDS rotating rounds, wrk -t1 -c$CONNS -d$DURATION --latency; load average $load_start at start, $load_end at end"
  echo "HAProxy has no built-in mirroring (it needs an external SPOE agent): its line is the no-mirror baseline only"
  for load in "${RUN_LOADS[@]}"; do
    echo
    if [[ $load == paced ]]; then
      echo "paced: $CONNS connections, each $PACE_MS ms between requests (~$OFFERED req/s offered)"
    else
      echo "max: $CONNS connections without pause (closed loop; the proxy's core is the limit)"
    fi
    printf '%-11s %8s %10s %10s %7s %6s %11s %9s %10s %9s\n' target "req/s" p50 p99 "p99 vs" errors "CPU us/req" "sys/req" "preempt/1k" mirrored
    for t in "${TARGETS[@]}"; do
      mirrored=$(med "$load:$t:mirrored")
      printf '%-11s %8s %10s %10s %7s %6s %11s %9s %10s %9s\n' "$t" "$(fmt "$(med "$load:$t:rps")" %.0f)" \
        "$(fmt_us "$(med "$load:$t:p50")")" "$(fmt_us "$(med "$load:$t:p99")")" "$(p99_ratio "$load" "$t")" \
        "${ERRS[$load:$t]:-0}" "$(fmt "$(med "$load:$t:cpu")" %.1f)" \
        "$(fmt "${R[sys:$t]:-}" %.2f)" "$(fmt "$(med "$load:$t:pre")" %.0f)" "$(fmt "$mirrored" '%.1f%%')"
    done
    for t in "${TARGETS[@]}"; do
      echo "  rounds $(printf '%-10s' "$t") req/s${R[$load:$t:rps]:-}; p99 ms$(awk '{ for (i = 1; i <= NF; i++) printf " %.2f", $i / 1000 }' <<<"${R[$load:$t:p99]:-}")"
    done
  done
  if ((SYS_ON)); then
    echo
    echo "syscalls per request (strace -c -f -p, wrk -c$CONNS -d$SYSCALL_DURATION without pause; nginx: the worker)"
    for t in "${TARGETS[@]}"; do
      printf '%-11s %6s  %s\n' "$t" "$(fmt "${R[sys:$t]}" %.2f)" "${R[systop:$t]}"
    done
  fi
  echo
  echo "weir's mirror metrics over the whole run (weir_mirror_requests_total by result, _dropped_total by reason)"
  for t in weir-slow weir-down; do
    echo "  $t: $(mirror_counts "$TMP/metrics-$t.txt")"
  done

  echo
  echo "acceptance (issue 15: mirroring at 10 % under load adds no failed or slower client requests, p99 within +10 %)"
  for load in "${RUN_LOADS[@]}"; do
    if [[ $load == max ]]; then echo "  (max load, for information: p99 there is queueing behind the core's CPU work)"; fi
    for t in weir-slow weir-down; do
      x=$(ratio "$(med "$load:$t:p99")" "$(med "$load:weir:p99")")
      echo "  $(pass "$x" '<=' 1.10)  $load, $t: p99 $(fmt_us "$(med "$load:$t:p99")") vs weir without mirror $(fmt_us "$(med "$load:weir:p99")") = ${x}x (<= 1.10x)"
      e=${ERRS[$load:$t]:-0}
      echo "  $(pass "$e" '<=' 0)  $load, $t: $e failed client requests (weir without mirror: ${ERRS[$load:weir]:-0})"
    done
  done
  if has_load paced; then
    for t in nginx-slow nginx-down; do
      echo "  nginx for comparison, paced, $t: p99 $(fmt_us "$(med "paced:$t:p99")") vs nginx without mirror $(fmt_us "$(med paced:nginx:p99)") = $(p99_ratio paced "$t"), req/s $(fmt "$(med "paced:$t:rps")" %.0f) vs $(fmt "$(med paced:nginx:rps)" %.0f)"
    done
  fi
} | tee "$TMP/report.txt"
if [[ -n ${OUT:-} ]]; then
  mkdir -p "$(dirname "$OUT")"
  cp "$TMP/report.txt" "$OUT"
fi
