#!/usr/bin/env bash
# Side-by-side proxy benchmark: weir, nginx and HAProxy in front of the same two upstreams, in
# one run, so the ratios are comparable even when the absolute numbers are not. Every section
# alternates its targets round by round (the order rotates each round) and reports the median;
# at the end an acceptance block checks issue 11's figures, PASS/FAIL with the numbers.
#
# Sections (PARTS, comma-separated; all by default):
#   rps       keep-alive requests/s, p50, p99 (wrk --latency), 1 worker each, and the upstream
#             directly as a ceiling
#   cpu       CPU us per request: utime+stime of the proxy (nginx: master + worker) from
#             /proc/PID/stat around the same wrk runs, / the requests wrk completed
#   syscalls  strace -c -f attached to the proxy (nginx: its worker) over a wrk run of
#             SYSCALL_DURATION; total calls / requests completed, and the top syscalls
#   idle      RSS per idle keep-alive connection with IDLE_CONNS of them (a fresh proxy per round)
#   close     a new connection per request (wrk -H 'Connection: close'; upstream keep-alive)
#   big       BIG_BYTES responses (weir-demo-upstream ?bytes=N), MiB/s
#   scale     the same keep-alive load on 2-worker proxies allowed on both CPUs; 2w/1w ratio
# rps, cpu and scale share their wrk runs (scale adds the 2-worker targets to the rotation).
#
# Placement: the 1-worker proxies are pinned to PROXY_CPU (default 0), wrk and both upstreams to
# CLIENT_CPU (1), so on a 2-core machine the proxy has a core to itself.
#
# Environment (defaults):
#   PARTS=rps,cpu,syscalls,idle,close,big,scale
#   ROUNDS=3            rounds per section; every figure is the median over them
#   DURATION=10s        wrk duration of a keep-alive measurement (rps/cpu/scale)
#   WARMUP=1s           wrk warm-up before every measurement (not counted)
#   CONNS=64            wrk connections (rps, cpu, syscalls, close, scale)
#   SYSCALL_DURATION=5s wrk duration under strace
#   SYSCALL_PATH=/      what wrk asks for under strace (e.g. /?bytes=1048576 with CONNS=8: the
#                       syscalls of a 1 MiB response)
#   IDLE_CONNS=10000    idle keep-alive connections for the memory measurement
#   CLOSE_DURATION=5s   wrk duration of the new-connection-per-request measurement
#   BIG_BYTES=1048576 BIG_CONNS=8 BIG_DURATION=5s   the large-response measurement
#   SCALE_CPUS=0,1      CPUs of the 2-worker proxies
#   WEIR_IO=MODE        adds `io: MODE` to weir's config (the default, auto, takes io_uring where
#                       the kernel has it; the syscall target is <= 3 when weir runs on io_uring)
#   BASE_PORT           ports BASE_PORT+1..+23 on 127.0.0.1 (default: first free block from 23000)
#   PROXY_CPU=0 CLIENT_CPU=1
#   NICE=N              run everything it starts with nice -n N (e.g. -10 as root on a shared
#                       machine, so other work disturbs the measurement less)
#   BUILD=<repo>/build  where weir, weir-demo-upstream and bench/idle_clients are
#   COMMIT=TEXT         the commit the report names (default: this checkout's HEAD)
#   OUT=FILE            also write the final report to FILE
#   KEEP_TMP=1          keep the temp dir (configs, logs, raw wrk and strace output)
#
# Needs: wrk, nginx, haproxy, strace, taskset, ss (apt-get install wrk nginx-light haproxy strace
# util-linux iproute2) and a release build (ninja -C build weir weir-demo-upstream
# bench/idle_clients). Builds and installs nothing itself.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=bench/run.sh
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

BUILD=${BUILD:-$ROOT/build}
PARTS=${PARTS:-rps,cpu,syscalls,idle,close,big,scale}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-1s}
CONNS=${CONNS:-64}
SYSCALL_DURATION=${SYSCALL_DURATION:-5s}
SYSCALL_PATH=${SYSCALL_PATH:-/}
IDLE_CONNS=${IDLE_CONNS:-10000}
CLOSE_DURATION=${CLOSE_DURATION:-5s}
BIG_BYTES=${BIG_BYTES:-1048576}
BIG_CONNS=${BIG_CONNS:-8}
BIG_DURATION=${BIG_DURATION:-5s}
SCALE_CPUS=${SCALE_CPUS:-0,1}
BASE_PORT=${BASE_PORT:-}
PROXY_CPU=${PROXY_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}

has_part() { [[ ,$PARTS, == *",$1,"* ]]; }
for p in ${PARTS//,/ }; do
  [[ $p =~ ^(rps|cpu|syscalls|idle|close|big|scale)$ ]] || die "unknown part '$p' in PARTS"
done
((ROUNDS >= 1)) || die "ROUNDS must be at least 1"
PROXIES=(weir nginx haproxy)
KEEPALIVE_TARGETS=()
if has_part rps || has_part cpu || has_part scale; then
  KEEPALIVE_TARGETS=(direct weir nginx haproxy)
  has_part scale && KEEPALIVE_TARGETS+=(weir-2w nginx-2w haproxy-2w)
fi

# --- prerequisites ---------------------------------------------------------------------------
missing=()
for tool in wrk nginx haproxy taskset ss strace; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
((${#missing[@]} == 0)) ||
  die "missing: ${missing[*]}; install with: apt-get install wrk nginx-light haproxy strace util-linux iproute2"
for bin in "$BUILD/weir" "$BUILD/weir-demo-upstream" "$BUILD/bench/idle_clients"; do
  [[ -x $bin ]] || die "$bin not found; build first: ninja -C ${BUILD#"$ROOT"/} weir weir-demo-upstream bench/idle_clients"
done
[[ $(id -u) == 0 ]] || log "note: not root; nginx runs without 'user' switching and ulimits may stay low"
ncpu=$(nproc)
if ((ncpu < 2)); then
  log "warning: $ncpu CPU; proxy and client share it, numbers are not comparable"
  PROXY_CPU=0 CLIENT_CPU=0 SCALE_CPUS=0
fi
# Pinning (and, with NICE set, priority) of every process the benchmark starts.
PROXY_PRIO=()
[[ -n ${NICE:-} ]] && PROXY_PRIO=(nice -n "$NICE")
CLIENT_PIN=("${PROXY_PRIO[@]}" taskset -c "$CLIENT_CPU")
NGINX_BUILD=$(nginx -V 2>&1)

# Other tests may run on this machine: take the first free block of ports below the ephemeral
# range unless BASE_PORT names one. +1/+2 upstreams, +11..13 1-worker proxies, +21..23 2-worker.
set_ports() {
  PORT_V1=$(($1 + 1)) PORT_V2=$(($1 + 2))
  declare -gA PORT_OF=([weir]=$(($1 + 11)) [nginx]=$(($1 + 12)) [haproxy]=$(($1 + 13))
    [weir-2w]=$(($1 + 21)) [nginx-2w]=$(($1 + 22)) [haproxy-2w]=$(($1 + 23)))
}
ports_free() {
  local port
  for port in "$PORT_V1" "$PORT_V2" "${PORT_OF[@]}"; do port_free "$port" || return 1; done
}
choose_port_block 23000 23

# File descriptors: IDLE_CONNS client sockets on each side plus upstream connections.
nofile_start=$(ulimit -n)
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
if has_part idle && ((NOFILE < IDLE_CONNS + 1000)); then
  die "ulimit -n is $NOFILE (hard $(ulimit -Hn)); need at least $((IDLE_CONNS + 1000)) for IDLE_CONNS=$IDLE_CONNS"
fi
# Client connections each proxy admits (weir per worker, HAProxy maxconn): room for the idle
# measurement; nginx's worker_connections is NOFILE - 100.
MAX_CONNS=$((IDLE_CONNS + 500))
((MAX_CONNS < 2000)) && MAX_CONNS=2000

TMP=$(mktemp -d /tmp/weir-bench.XXXXXX)
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  bench_cleanup
  if [[ ${KEEP_TMP:-0} == 1 || $rc != 0 ]]; then
    echo "$BENCH_NAME: configs and logs kept in $TMP" >&2
  else
    rm -rf "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- upstreams and proxies -------------------------------------------------------------------
log "starting upstreams on CPU $CLIENT_CPU: app-v1 :$PORT_V1, app-v2 :$PORT_V2"
for up in app-v1 app-v2; do
  port=$PORT_V1
  [[ $up == app-v2 ]] && port=$PORT_V2
  "${CLIENT_PIN[@]}" "$BUILD/weir-demo-upstream" --listen "127.0.0.1:$port" --name "$up" \
    >"$TMP/$up.log" 2>&1 &
  BENCH_PIDS+=($!)
  wait_port $! "$port" "$up" "$TMP/$up.log"
done
TARGET_PORT[direct]=$PORT_V1

# 1-worker proxies on PROXY_CPU; the 2-worker ones on SCALE_CPUS only when scale is measured
# (idle they cost nothing, so they stay up beside the others).
start_one_worker() {
  log "starting $1 (1 worker) on CPU $PROXY_CPU :${PORT_OF[$1]}"
  start_proxy "$1" "$1" 1 "${PORT_OF[$1]}" "$PROXY_CPU"
}
for p in "${PROXIES[@]}"; do start_one_worker "$p"; done
if has_part scale; then
  for p in "${PROXIES[@]}"; do
    log "starting $p-2w (2 workers) on CPUs $SCALE_CPUS :${PORT_OF[$p-2w]}"
    start_proxy "$p-2w" "$p" 2 "${PORT_OF[$p-2w]}" "$SCALE_CPUS"
  done
fi

# Status line and headers of one GET $2 on 127.0.0.1:$1 (bash's /dev/tcp; no curl needed).
head_of() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'GET %s HTTP/1.1\r\nHost: bench.local\r\nConnection: close\r\n\r\n' "$2" >&3
    while IFS= read -r -t 5 line <&3; do
      line=${line%$'\r'}
      [[ -z $line ]] && break
      echo "$line"
    done
  ) 2>/dev/null || echo "no answer"
}
# The backend weir started with (its start line: "ready, io epoll|io_uring"): io: auto picks it.
WEIR_BACKEND=$(grep -o 'ready, io [a-z_]*' "$TMP/weir.log" 2>/dev/null | awk '{print $3}')
WEIR_BACKEND=${WEIR_BACKEND:-unknown}

# Every target answers 200 (and the full body size for the big responses) before anything is
# measured.
for t in direct "${PROXIES[@]}" $(has_part scale && echo weir-2w nginx-2w haproxy-2w); do
  line=$(head_of "${TARGET_PORT[$t]}" /)
  line=${line%%$'\n'*}
  [[ $line == "HTTP/1.1 200 "* ]] || die "$t answered '$line' instead of 200"
  if has_part big; then
    len=$(head_of "${TARGET_PORT[$t]}" "/?bytes=$BIG_BYTES")
    len=$(awk -F': *' 'tolower($1) == "content-length" {print $2}' <<<"$len")
    [[ $len == "$BIG_BYTES" ]] || log "note: $t's big response has content-length '${len:-none}' (want $BIG_BYTES)"
  fi
done

# The list "$@" rotated left by $1 places: round r starts with a different target.
rotated() {
  local r=$1
  shift
  local n=$# i
  local items=("$@")
  for ((i = 0; i < n; i++)); do echo "${items[$(((i + r) % n))]}"; done
}

# measure TARGET PATH DURATION CONNS [wrk args]: a warm-up, then one wrk run, with the target's
# CPU time read around it. Sets W_RPS W_P50 W_P99 W_ERRS W_REQS W_BPS (transfer bytes/s) W_USR
# W_SYS (CPU us per request, user and kernel; "nan" for the upstream itself) and W_OUT.
measure() {
  local t=$1 path=$2 dur=$3 conns=$4
  shift 4
  local url="http://127.0.0.1:${TARGET_PORT[$t]}$path" before after
  "${CLIENT_PIN[@]}" wrk -t1 -c"$conns" -d"$WARMUP" "$@" "$url" >/dev/null 2>&1 || true
  # shellcheck disable=SC2086 # CPU_PIDS holds a list of pids
  [[ $t != direct ]] && before=$(cpu_ticks ${CPU_PIDS[$t]})
  W_OUT=$("${CLIENT_PIN[@]}" wrk -t1 -c"$conns" -d"$dur" --latency "$@" "$url" 2>&1) ||
    die "wrk against $t failed: $W_OUT"
  # shellcheck disable=SC2086
  [[ $t != direct ]] && after=$(cpu_ticks ${CPU_PIDS[$t]})
  read -r W_RPS W_P50 W_P99 W_ERRS W_REQS W_BPS <<<"$(parse_wrk <<<"$W_OUT")"
  W_USR=nan W_SYS=nan
  if [[ $t != direct ]] && ((W_REQS > 0)); then
    read -r W_USR W_SYS <<<"$(awk -v b="$before" -v a="$after" -v n="$W_REQS" -v hz="$CLK_TCK" 'BEGIN {
      split(b, x, " "); split(a, y, " ")
      printf "%.2f %.2f\n", (y[1] - x[1]) * 1e6 / hz / n, (y[2] - x[2]) * 1e6 / hz / n }')"
  fi
}

# Results: R[section:target:metric] holds one value per round, space-separated.
declare -A R=() ERRS=()
add() { R[$1]+=" $2"; }
med() { median <<<"${R[$1]:-}"; }
cpu_sum() { awk -v u="$1" -v s="$2" 'BEGIN { if (u == "nan" || s == "nan") print "nan"; else printf "%.2f\n", u + s }'; }
record() { # record SECTION TARGET: the W_* of the last measurement, one round's values
  local k=$1:$2
  add "$k:rps" "$W_RPS"
  add "$k:p50" "$W_P50"
  add "$k:p99" "$W_P99"
  add "$k:bps" "$W_BPS"
  add "$k:usr" "$W_USR"
  add "$k:sys" "$W_SYS"
  add "$k:cpu" "$(cpu_sum "$W_USR" "$W_SYS")"
  add "$k:core" "$(awk -v c="$(cpu_sum "$W_USR" "$W_SYS")" -v r="$W_RPS" 'BEGIN { if (c == "nan") print "nan"; else printf "%.1f\n", c * r / 1e4 }')"
  ERRS[$k]=$((${ERRS[$k]:-0} + W_ERRS))
  echo "$W_OUT" >>"$TMP/wrk-$1-$2.txt"
}
cpu_note() { [[ $W_USR == nan ]] || echo "  cpu $(cpu_sum "$W_USR" "$W_SYS") us/req (usr $W_USR, sys $W_SYS)"; }
errs_note() { ((W_ERRS == 0)) || echo "  ($W_ERRS errors)"; }

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
# The tree weir was built from: this checkout's HEAD (plus a note when files outside bench/ have
# uncommitted changes), or COMMIT=... for a build dir elsewhere.
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
log "load average at start: $load_start; parts: $PARTS"

# --- keep-alive: requests/s, latency, CPU per request, 2-worker scaling ----------------------
if ((${#KEEPALIVE_TARGETS[@]})); then
  for ((r = 0; r < ROUNDS; r++)); do
    for t in $(rotated "$r" "${KEEPALIVE_TARGETS[@]}"); do
      measure "$t" / "$DURATION" "$CONNS"
      record ka "$t"
      log "keep-alive round $((r + 1))/$ROUNDS $(printf '%-10s' "$t") $(printf '%7s' "$W_RPS") req/s" \
        " p50 $(fmt_us "$W_P50")  p99 $(fmt_us "$W_P99")$(cpu_note)$(errs_note)"
    done
  done
fi

# --- syscalls per request ----------------------------------------------------------------------
# strace stops the proxy at every syscall, so the rates under it are far lower; calls per
# request is what counts. The per-syscall breakdown pools the rounds (calls / requests).
if has_part syscalls; then
  for ((r = 0; r < ROUNDS; r++)); do
    for t in $(rotated "$r" "${PROXIES[@]}"); do
      out=$TMP/strace-$t-$r.txt
      wrk_under_strace "$out" "${TRACE_PIDS[$t]}" "$t" "${CLIENT_PIN[@]}" wrk -t1 -c"$CONNS" \
        -d"$SYSCALL_DURATION" "http://127.0.0.1:${TARGET_PORT[$t]}$SYSCALL_PATH"
      parse_strace "$out" | awk -v t="$t" -v n="$W_REQS" '{ print t, $3, $1, $2, n }' >>"$TMP/syscalls.txt"
      total=$(parse_strace "$out" | awk '$3 == "total" { print $1 }')
      per=$(ratio "$total" "$W_REQS")
      add "sys:$t:per" "$per"
      log "syscalls round $((r + 1))/$ROUNDS $(printf '%-8s' "$t") $per per request ($total calls, $W_REQS requests under strace)$(errs_note)"
    done
  done
fi
# Top syscalls of target $1 per request, pooled over the rounds, with the failed share (EAGAIN
# reads are the usual ones): "2.00 sendmsg, 4.00 recvfrom (2.00 failed), ...". syscalls.txt has
# "target syscall calls errors requests" per syscall and round.
top_syscalls() {
  awk -v t="$1" '$1 == t && $2 != "total" { calls[$2] += $3; errs[$2] += $4 } $1 == t && $2 == "total" { reqs += $5 }
    END { for (s in calls) printf "%.3f %s %.3f\n", calls[s] / reqs, s, errs[s] / reqs }' "$TMP/syscalls.txt" |
    sort -rg | awk '$1 >= 0.005' | head -n 8 |
    awk '{ printf "%s%.2f %s", (NR > 1 ? ", " : ""), $1, $2; if ($3 >= 0.005) printf " (%.2f failed)", $3 }'
}

# --- new connection per request ----------------------------------------------------------------
# The client side closes after every response (each proxy answers Connection: close and closes);
# the upstream side stays keep-alive.
if has_part close; then
  for ((r = 0; r < ROUNDS; r++)); do
    for t in $(rotated "$r" "${PROXIES[@]}"); do
      measure "$t" / "$CLOSE_DURATION" "$CONNS" -H 'Connection: close'
      record close "$t"
      log "close round $((r + 1))/$ROUNDS $(printf '%-8s' "$t") $(printf '%7s' "$W_RPS") conn+req/s" \
        " p99 $(fmt_us "$W_P99")$(cpu_note)$(errs_note)"
    done
  done
fi

# --- large responses ------------------------------------------------------------------------------
if has_part big; then
  for ((r = 0; r < ROUNDS; r++)); do
    for t in $(rotated "$r" direct "${PROXIES[@]}"); do
      measure "$t" "/?bytes=$BIG_BYTES" "$BIG_DURATION" "$BIG_CONNS"
      record big "$t"
      mibs=$(awk -v b="$W_BPS" 'BEGIN { printf "%.0f", b / 1048576 }')
      add "big:$t:mibs" "$mibs"
      log "big round $((r + 1))/$ROUNDS $(printf '%-8s' "$t") $(printf '%6s' "$mibs") MiB/s" \
        " ($W_RPS responses/s, p99 $(fmt_us "$W_P99"))$(cpu_note)$(errs_note)"
    done
  done
fi

# --- memory per idle keep-alive connection ---------------------------------------------------
# A fresh proxy per round (RSS never comes back down after a round: glibc keeps freed memory),
# warmed with 2 connections for 1 s, then IDLE_CONNS connections that each make one request and
# stay idle. (after - before) / IDLE_CONNS; for nginx the worker's RSS. Runs last: it restarts
# the 1-worker proxies.
if has_part idle; then
  for ((r = 0; r < ROUNDS; r++)); do
    for t in $(rotated "$r" "${PROXIES[@]}"); do
      stop_proxy "$t"
      start_proxy "$t" "$t" 1 "${PORT_OF[$t]}" "$PROXY_CPU"
      "${CLIENT_PIN[@]}" wrk -t1 -c2 -d1s "http://127.0.0.1:${TARGET_PORT[$t]}/" >/dev/null 2>&1 || true
      sleep 1
      pid=${RSS_PID[$t]}
      before=$(rss_kib "$pid")
      idle_out=$TMP/idle-$t-$r
      "${CLIENT_PIN[@]}" "$BUILD/bench/idle_clients" 127.0.0.1 "${TARGET_PORT[$t]}" "$IDLE_CONNS" \
        >"$idle_out.out" 2>"$idle_out.err" &
      idle_pid=$!
      BENCH_PIDS+=("$idle_pid")
      ok=0
      for _ in $(seq 1200); do
        if grep -q '^idle ' "$idle_out.out" 2>/dev/null; then ok=1 && break; fi
        kill -0 "$idle_pid" 2>/dev/null || break
        sleep 0.05
      done
      if ((ok)); then
        sleep 2 # let the proxy settle: deferred frees, timers
        after=$(rss_kib "$pid")
        per=$(((after - before) * 1024 / IDLE_CONNS))
        add "idle:$t:bytes" "$per"
        add "idle:$t:before" "$before"
        add "idle:$t:after" "$after"
        log "idle round $((r + 1))/$ROUNDS $(printf '%-8s' "$t") RSS $before -> $after KiB with $IDLE_CONNS idle connections = $per B/conn"
      else
        log "idle $t: client failed: $(tail -n 3 "$idle_out.err" | tr '\n' ' ')"
      fi
      kill -TERM "$idle_pid" 2>/dev/null || true
      wait "$idle_pid" 2>/dev/null || true
    done
  done
fi

# --- report ------------------------------------------------------------------------------------
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
weir_version=$("$BUILD/weir" --version 2>&1 | awk 'NR == 1')
pass() { awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN {
  if (a == "nan" || b == "nan" || a == "" || b == "" || a == "n/a" || b == "n/a") { print "n/a"; exit }
  ok = (op == "<=") ? (a + 0 <= b + 0) : (a + 0 >= b + 0); print ok ? "PASS" : "FAIL" }'; }
fmt() { awk -v v="$1" -v f="$2" 'BEGIN { if (v == "nan" || v == "") print "-"; else printf f "\n", v }'; }
errs_of() { if ((${ERRS[$1]:-0})); then echo "  (${ERRS[$1]} errors)"; fi; }
vs() { if [[ $1 == direct ]]; then echo -; else ratio "$2" "$3" '%.2fx'; fi; }
{
  echo "weir side-by-side benchmark, $started, $(uname -r), $ncpu CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'))"
  echo "weir: $weir_version, $BUILD/weir built $(date -u -r "$BUILD/weir" '+%Y-%m-%d %H:%M UTC'), tree at $commit$dirty, io $WEIR_BACKEND${WEIR_IO:+ (WEIR_IO=$WEIR_IO)}"
  echo "$(haproxy -v 2>&1 | awk 'NR == 1 {print "HAProxy " $3}'), $(nginx -v 2>&1 | sed 's/^nginx version: //'), $(wrk -v 2>&1 | awk 'NR == 1 {print "wrk " $2}'), strace $(strace -V | awk 'NR == 1 {print $4}')"
  echo "1-worker proxies on CPU $PROXY_CPU; wrk + 2 upstreams (90/10 split, upstream keep-alive) on CPU $CLIENT_CPU${NICE:+; nice $NICE}"
  echo "parts: $PARTS; median of $ROUNDS alternating rounds each; load average $load_start at start, $load_end at end; ulimit -n $nofile_start -> $NOFILE"
  if ((${#KEEPALIVE_TARGETS[@]})); then
    echo
    echo "keep-alive, 1 worker (wrk -t1 -c$CONNS -d$DURATION --latency); CPU = utime+stime / requests (nginx: master + worker)"
    echo "(core = the proxy's CPU time / wall time: below ~95% the proxy was not what limited req/s)"
    printf '%-10s %9s %10s %10s %10s %12s %9s %9s %6s\n' target "req/s" "vs HAProxy" p50 p99 "CPU us/req" usr sys core
    for t in direct "${PROXIES[@]}"; do
      printf '%-10s %9s %10s %10s %10s %12s %9s %9s %6s%s\n' "$t" "$(med "ka:$t:rps")" \
        "$(vs "$t" "$(med "ka:$t:rps")" "$(med ka:haproxy:rps)")" \
        "$(fmt_us "$(med "ka:$t:p50")")" "$(fmt_us "$(med "ka:$t:p99")")" \
        "$(fmt "$(med "ka:$t:cpu")" %.1f)" "$(fmt "$(med "ka:$t:usr")" %.1f)" "$(fmt "$(med "ka:$t:sys")" %.1f)" \
        "$(fmt "$(med "ka:$t:core")" '%.0f%%')" "$(errs_of "ka:$t")"
    done
    # Every round's figure, in round order, so a disturbed round shows in the report itself.
    for t in direct "${PROXIES[@]}"; do
      line="  rounds $(printf '%-8s' "$t") req/s${R[ka:$t:rps]:-}; p99 ms$(awk '{ for (i = 1; i <= NF; i++) printf " %.2f", $i / 1000 }' <<<"${R[ka:$t:p99]:-}")"
      [[ $t == direct ]] || line+="; CPU us/req${R[ka:$t:cpu]:-}"
      echo "$line"
    done
  fi
  if has_part syscalls; then
    echo
    echo "syscalls per request (strace -c -f -p, wrk -c$CONNS -d$SYSCALL_DURATION $SYSCALL_PATH under strace; nginx: the worker)"
    for t in "${PROXIES[@]}"; do
      printf '%-10s %6s  %s\n' "$t" "$(fmt "$(med "sys:$t:per")" %.2f)" "$(top_syscalls "$t")"
    done
  fi
  if has_part close; then
    echo
    echo "new connection per request (wrk -t1 -c$CONNS -d$CLOSE_DURATION -H 'Connection: close'; upstream keep-alive)"
    printf '%-10s %9s %10s %10s %10s %12s\n' target "req/s" "vs HAProxy" p50 p99 "CPU us/req"
    for t in "${PROXIES[@]}"; do
      printf '%-10s %9s %10s %10s %10s %12s%s\n' "$t" "$(med "close:$t:rps")" \
        "$(ratio "$(med "close:$t:rps")" "$(med close:haproxy:rps)" '%.2fx')" \
        "$(fmt_us "$(med "close:$t:p50")")" "$(fmt_us "$(med "close:$t:p99")")" "$(fmt "$(med "close:$t:cpu")" %.1f)" "$(errs_of "close:$t")"
    done
  fi
  if has_part big; then
    echo
    echo "$BIG_BYTES-byte responses (wrk -t1 -c$BIG_CONNS -d$BIG_DURATION, GET /?bytes=$BIG_BYTES); MiB/s from wrk's Transfer/sec"
    printf '%-10s %9s %10s %10s %12s\n' target "MiB/s" "vs nginx" p99 "CPU us/MiB"
    for t in direct "${PROXIES[@]}"; do
      cpu_mib=$(awk -v c="$(med "big:$t:cpu")" -v b="$BIG_BYTES" 'BEGIN { if (c == "nan") print "nan"; else printf "%.0f\n", c * 1048576 / b }')
      printf '%-10s %9s %10s %10s %12s%s\n' "$t" "$(med "big:$t:mibs")" \
        "$(vs "$t" "$(med "big:$t:mibs")" "$(med big:nginx:mibs)")" \
        "$(fmt_us "$(med "big:$t:p99")")" "$(fmt "$cpu_mib" %.0f)" "$(errs_of "big:$t")"
    done
  fi
  if has_part idle; then
    echo
    echo "idle keep-alive connections: $IDLE_CONNS per proxy, fresh proxy per round; (RSS after - before) / connections (nginx: the worker)"
    for t in "${PROXIES[@]}"; do
      printf '%-10s %6s B/conn   RSS %s -> %s KiB (medians)\n' "$t" "$(med "idle:$t:bytes")" \
        "$(med "idle:$t:before")" "$(med "idle:$t:after")"
    done
  fi
  if has_part scale; then
    echo
    echo "1 -> 2 workers (same keep-alive load; 2-worker proxies on CPUs $SCALE_CPUS, sharing CPU $CLIENT_CPU with wrk and the upstreams)"
    printf '%-10s %9s %9s %7s %12s %12s %8s\n' proxy "1w req/s" "2w req/s" "2w/1w" "1w CPU us/r" "2w CPU us/r" "2w core"
    for t in "${PROXIES[@]}"; do
      printf '%-10s %9s %9s %7s %12s %12s %8s%s\n' "$t" "$(med "ka:$t:rps")" "$(med "ka:$t-2w:rps")" \
        "$(ratio "$(med "ka:$t-2w:rps")" "$(med "ka:$t:rps")" '%.2fx')" \
        "$(fmt "$(med "ka:$t:cpu")" %.1f)" "$(fmt "$(med "ka:$t-2w:cpu")" %.1f)" \
        "$(fmt "$(med "ka:$t-2w:core")" '%.0f%%')" "$(errs_of "ka:$t-2w")"
    done
  fi

  # Issue 11's acceptance figures, each against the same run's HAProxy or nginx.
  echo
  echo "acceptance (issue 11; medians of $ROUNDS rounds)"
  if ((${#KEEPALIVE_TARGETS[@]})); then
    w=$(med ka:weir:rps) h=$(med ka:haproxy:rps) x=$(ratio "$w" "$h")
    echo "  $(pass "$x" '>=' 1.2)  keep-alive req/s >= 1.2x HAProxy: weir $w, HAProxy $h = ${x}x"
    w=$(med ka:weir:p99) h=$(med ka:haproxy:p99)
    echo "  $(pass "$w" '<=' "$h")  keep-alive p99 <= HAProxy's: weir $(fmt_us "$w"), HAProxy $(fmt_us "$h")"
    w=$(med ka:weir:cpu) h=$(med ka:haproxy:cpu) x=$(ratio "$w" "$h")
    echo "  $(pass "$x" '<=' 0.8)  CPU per request <= 0.8x HAProxy: weir $w us, HAProxy $h us = ${x}x"
    # A proxy well below a full core was waiting (for its core, taken by other work, or for the
    # clients on the other one): req/s and p99 then say more about the machine than the proxy.
    w=$(med ka:weir:core) h=$(med ka:haproxy:core)
    if awk -v a="$w" -v b="$h" 'BEGIN { exit !(a + 0 < 80 || b + 0 < 80) }'; then
      echo "        note: the proxies used ${w}% (weir) and ${h}% (HAProxy) of their core: req/s and p99"
      echo "        were limited by something else (load average above); CPU per request is the robust figure"
    fi
  fi
  if has_part syscalls && [[ $SYSCALL_PATH == / ]]; then
    w=$(med sys:weir:per) h=$(med sys:haproxy:per)
    echo "  $(pass "$w" '<=' "$h")  syscalls per request <= HAProxy's: weir $w, HAProxy $h"
    if [[ $WEIR_BACKEND == io_uring ]]; then
      echo "  $(pass "$w" '<=' 3)  syscalls per request <= 3 with io_uring: weir $w"
    fi
  fi
  if has_part idle; then
    w=$(med idle:weir:bytes)
    echo "  $(pass "$w" '<=' 1024)  idle keep-alive RSS <= 1 KiB per connection at $IDLE_CONNS: weir $w B (HAProxy $(med idle:haproxy:bytes), nginx $(med idle:nginx:bytes))"
  fi
  if has_part close; then
    w=$(med close:weir:rps) h=$(med close:haproxy:rps)
    echo "  $(pass "$w" '>=' "$h")  connection-per-request rate >= HAProxy's: weir $w/s, HAProxy $h/s"
  fi
  if has_part big; then
    w=$(med big:weir:mibs) n=$(med big:nginx:mibs)
    echo "  $(pass "$w" '>=' "$n")  $BIG_BYTES-byte response throughput >= nginx's: weir $w MiB/s, nginx $n MiB/s"
  fi
} | tee "$TMP/report.txt"
if [[ -n ${OUT:-} ]]; then
  mkdir -p "$(dirname "$OUT")"
  cp "$TMP/report.txt" "$OUT"
fi
