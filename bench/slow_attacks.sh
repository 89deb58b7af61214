#!/usr/bin/env bash
# Slow-client attacks against a proxy while it serves normal traffic: slowhttptest's slow headers
# (-H), slow body (-B, twice: a body that stops, which client_body_timeout ends, and a steady
# trickle, which only request_timeout ends) and slow read (-X), CONNS connections per wave, waves
# back to back for the whole measurement window. Beside each attack wrk sends paced normal
# requests to a second listener of the same proxy (with an upstream of its own). Each attack
# window has a control window: the same slowhttptest run aimed at an upstream directly, so the
# proxy never sees it but the load generator costs the same CPU on the shared core; plus windows
# without any attack at the start and the end, all in the same run.
#
# Per attack it reports how long each slow connection stayed open on the proxy side against the
# timeout meant to end it, sampled with `ss` (a server-side socket leaves ESTABLISHED the moment
# the proxy closes it, even when unsent response bytes are still queued), the peak of open
# connections (ss, and weir's weir_client_connections gauge from /metrics), and normal traffic's
# requests/s, p99 and errors against the control and the quiet windows, plus the proxy's CPU
# time per normal request (the attack's work included) and the growth of kernel TCP memory.
#
# The proxy runs pinned to PROXY_CPU, wrk, slowhttptest and the upstream to CLIENT_CPU.
#
# Environment (defaults):
#   PROXIES="weir"       any of weir haproxy nginx, in this order (about 5 minutes each)
#   ATTACKS="headers body-gap body-trickle read"
#   CONNS=1000 RATE=500  slowhttptest connections per wave and connections opened per second
#   WINDOW=12            seconds of each measurement window (wrk -d, attack waves); longer when
#                        one whole wave needs more (timeout + time to open CONNS + 6 s)
#   ROUNDS=2             attack and control windows per attack (in turns; the table shows medians)
#   WRK_CONNS=8 PACE_MS=2  normal traffic: wrk -t1 -c8, each connection waits 2 ms between
#                        requests (a moderate, steady rate instead of saturation)
#   HEADER_TIMEOUT=5 BODY_TIMEOUT=5 REQUEST_TIMEOUT=10 IDLE_TIMEOUT=5   seconds
#   READ_BYTES=65536     response size of the slow-read requests (the kernel takes up to
#                        tcp_wmem's max per socket off the proxy's hands, see README)
#   TOLERANCE=1.0        seconds a connection may outlive its timeout and still pass (the ss
#                        sampling period and the proxy's timer granularity)
#   SHARED_UPSTREAM=0    1: the attack listener goes to the normal traffic's upstream (same
#                        service, same connection pool) instead of an upstream of its own
#   LIMITS=1             0 leaves client_body_timeout and request_timeout out of weir's config
#                        (for a weir from before they existed)
#   BASE_PORT            ports BASE_PORT+1..+32 on 127.0.0.1 (default: first free block from 24000)
#   PROXY_CPU=0 CLIENT_CPU=1
#   NICE=N               run the proxy, wrk and the normal upstream with nice -n N (e.g. -10 as
#                        root on a shared machine, so other work disturbs the latencies less)
#   BUILD=<repo>/build   where weir and weir-demo-upstream are
#   OUT=FILE             also write the final table to FILE
#   KEEP_TMP=1           keep the temp dir (configs, logs, samples, slowhttptest CSVs)
#
# Needs: slowhttptest, wrk, ss, taskset, curl (apt-get install slowhttptest wrk iproute2
# util-linux curl), nginx and haproxy when listed in PROXIES, and a release build
# (ninja -C build weir weir-demo-upstream). Builds and installs nothing itself.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
read -ra PROXIES <<<"${PROXIES:-weir}"
read -ra ATTACKS <<<"${ATTACKS:-headers body-gap body-trickle read}"
CONNS=${CONNS:-1000}
RATE=${RATE:-500}
WINDOW=${WINDOW:-12}
ROUNDS=${ROUNDS:-2}
WRK_CONNS=${WRK_CONNS:-8}
PACE_MS=${PACE_MS:-2}
HEADER_TIMEOUT=${HEADER_TIMEOUT:-5}
BODY_TIMEOUT=${BODY_TIMEOUT:-5}
REQUEST_TIMEOUT=${REQUEST_TIMEOUT:-10}
IDLE_TIMEOUT=${IDLE_TIMEOUT:-5}
READ_BYTES=${READ_BYTES:-65536}
TOLERANCE=${TOLERANCE:-1.0}
LIMITS=${LIMITS:-1}
SHARED_UPSTREAM=${SHARED_UPSTREAM:-0}
BASE_PORT=${BASE_PORT:-}
PROXY_CPU=${PROXY_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
SAMPLE_PERIOD=0.2

die() {
  echo "bench/slow_attacks.sh: $*" >&2
  exit 1
}
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# --- prerequisites ---------------------------------------------------------------------------
missing=()
for tool in slowhttptest wrk ss taskset curl; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
for p in "${PROXIES[@]}"; do
  case $p in
  weir) ;;
  nginx | haproxy) command -v "$p" >/dev/null 2>&1 || missing+=("$p") ;;
  *) die "unknown proxy '$p' in PROXIES (weir, haproxy, nginx)" ;;
  esac
done
if ((${#missing[@]})); then
  die "missing: ${missing[*]}; install with: apt-get install slowhttptest wrk iproute2 util-linux curl nginx-light haproxy"
fi
for a in "${ATTACKS[@]}"; do
  case $a in headers | body-gap | body-trickle | read) ;; *) die "unknown attack '$a' in ATTACKS" ;; esac
done
for bin in "$BUILD/weir" "$BUILD/weir-demo-upstream"; do
  [[ -x $bin ]] || die "$bin not found; build first: ninja -C ${BUILD#"$ROOT"/} weir weir-demo-upstream"
done
if (($(nproc) < 2)); then
  log "warning: 1 CPU; proxy and clients share it"
  PROXY_CPU=0 CLIENT_CPU=0
fi
PROXY_PIN=(taskset -c "$PROXY_CPU")
CLIENT_PIN=(taskset -c "$CLIENT_CPU")
if [[ -n ${NICE:-} ]]; then
  PROXY_PIN=(nice -n "$NICE" "${PROXY_PIN[@]}")
  CLIENT_PIN=(nice -n "$NICE" "${CLIENT_PIN[@]}")
fi
# slowhttptest keeps half a core busy polling its sockets (about 5 s of CPU per 1,000
# connections and 9 s): at nice 19 it yields CPU 1 to wrk and the upstream whenever they wake,
# so its own cost does not show up as the proxy's latency.
ATTACK_PIN=(nice -n 19 taskset -c "$CLIENT_CPU")

port_free() { [[ -z $(ss -Htln "sport = :$1" 2>/dev/null) ]]; }
set_ports() {
  PORT_UP=$(($1 + 1)) PORT_UP_ATTACK=$(($1 + 2))
  PORT_ADMIN=$(($1 + 3))
  declare -gA PORT_NORMAL PORT_ATTACK
  PORT_NORMAL[weir]=$(($1 + 11)) PORT_ATTACK[weir]=$(($1 + 12))
  PORT_NORMAL[haproxy]=$(($1 + 21)) PORT_ATTACK[haproxy]=$(($1 + 22))
  PORT_NORMAL[nginx]=$(($1 + 31)) PORT_ATTACK[nginx]=$(($1 + 32))
}
ports_free() {
  local p
  for p in "$PORT_UP" "$PORT_UP_ATTACK" "$PORT_ADMIN" "${PORT_NORMAL[@]}" "${PORT_ATTACK[@]}"; do
    port_free "$p" || return 1
  done
}
choose_port_block 24000 32

# Slow connections and the proxy's own sockets need file descriptors on both sides.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
(($(ulimit -n) >= CONNS * 2 + 500)) || die "ulimit -n is $(ulimit -n); need $((CONNS * 2 + 500))"

TMP=$(mktemp -d /tmp/weir-slow.XXXXXX)
PIDS=()
cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 25); do
    local alive=0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.2
  done
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  if [[ ${KEEP_TMP:-0} == 1 || $rc != 0 ]]; then
    echo "bench/slow_attacks.sh: configs, logs and samples kept in $TMP" >&2
  else
    rm -rf "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# Stops one process this script started and forgets it, so cleanup never signals a reused pid.
stop_pid() {
  local pid=$1 kept=() p
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for p in "${PIDS[@]}"; do [[ $p == "$pid" ]] || kept+=("$p"); done
  PIDS=("${kept[@]}")
}

# Waits until something accepts on 127.0.0.1:$2, or $1 (a pid) exits, or 10 s pass.
wait_port() {
  local pid=$1 port=$2 name=$3 log_file=$4
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$log_file" >&2 || true
      die "$name exited during start-up (log: $log_file)"
    fi
    sleep 0.1
  done
  tail -n 20 "$log_file" >&2 || true
  die "$name does not accept on port $port after 10 s"
}

# Kernel memory of all TCP sockets on the machine, in pages (socket buffers, orphans included).
tcp_mem_pages() { awk '$1 == "TCP:" { for (i = 2; i < NF; i++) if ($i == "mem") print $(i + 1) }' /proc/net/sockstat; }

# utime + stime of a process, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
CLK_TCK=$(getconf CLK_TCK)

# Prints "req/s p50_us p99_us errors requests" from wrk --latency output on stdin.
parse_wrk() {
  awk '
    function us(v) {
      if (v ~ /us$/) { sub(/us$/, "", v); return v + 0 }
      if (v ~ /ms$/) { sub(/ms$/, "", v); return v * 1000 }
      if (v ~ /m$/)  { sub(/m$/, "", v);  return v * 60000000 }
      if (v ~ /s$/)  { sub(/s$/, "", v);  return v * 1000000 }
      return v + 0
    }
    $1 == "50%" { p50 = us($2) }
    $1 == "99%" { p99 = us($2) }
    $2 == "requests" && $3 == "in" { n = $1 }
    $1 == "Requests/sec:" { rps = $2 }
    /Non-2xx or 3xx responses:/ { err += $NF }
    /Socket errors:/ { for (i = 3; i <= NF; i++) { v = $i; sub(/,$/, "", v); if (v ~ /^[0-9]+$/) err += v } }
    END { printf "%.0f %.1f %.1f %d %d\n", rps, p50, p99, err, n }'
}
fmt_us() { awk -v v="$1" 'BEGIN { if (v >= 1000) printf "%.2f ms", v / 1000; else printf "%.0f us", v }'; }

# --- upstreams -------------------------------------------------------------------------------
# Where the attack listener's requests (and the control windows' attacks) go.
ATTACK_UPSTREAM=$PORT_UP_ATTACK ATTACK_SERVICE=attack/app ATTACK_POOL=attack
if [[ $SHARED_UPSTREAM == 1 ]]; then
  ATTACK_UPSTREAM=$PORT_UP ATTACK_SERVICE=normal/app ATTACK_POOL=normal
fi
# Two weir-demo-upstream processes, one behind each listener: the slow bodies a proxy streams
# on must not slow the upstream that answers the normal requests (that would measure the demo
# upstream, not the proxy). The attack's one runs at nice 19 like slowhttptest.
log "upstreams on CPU $CLIENT_CPU: normal :$PORT_UP, attack :$PORT_UP_ATTACK"
"${CLIENT_PIN[@]}" "$BUILD/weir-demo-upstream" --listen "127.0.0.1:$PORT_UP" --name app \
  >"$TMP/upstream.log" 2>&1 &
PIDS+=($!)
wait_port $! "$PORT_UP" upstream "$TMP/upstream.log"
"${ATTACK_PIN[@]}" "$BUILD/weir-demo-upstream" --listen "127.0.0.1:$PORT_UP_ATTACK" \
  --name attack >"$TMP/upstream-attack.log" 2>&1 &
PIDS+=($!)
wait_port $! "$PORT_UP_ATTACK" upstream-attack "$TMP/upstream-attack.log"

# --- proxies ---------------------------------------------------------------------------------
# Each proxy gets two listeners: "normal" for wrk, "attack" for slowhttptest, so the attack's
# sockets can be told apart, with the same timeouts on both.
write_weir_config() {
  local limits_extra=""
  if [[ $LIMITS != 0 ]]; then
    limits_extra="  client_body_timeout: ${BODY_TIMEOUT}s
  request_timeout: ${REQUEST_TIMEOUT}s"
  fi
  cat >"$TMP/weir.yaml" <<EOF
workers: 1
listeners:
  - name: normal
    address: 127.0.0.1:${PORT_NORMAL[weir]}
  - name: attack
    address: 127.0.0.1:${PORT_ATTACK[weir]}
services:
  - namespace: normal
    name: app
    endpoints: [127.0.0.1:$PORT_UP]
    max_idle_connections: 64
  - namespace: attack
    name: app
    endpoints: [127.0.0.1:$PORT_UP_ATTACK]
    max_idle_connections: 64
routes:
  - name: normal
    listener: normal
    backends: [{ service: normal/app }]
    timeouts: { request: ${IDLE_TIMEOUT}s, idle: ${IDLE_TIMEOUT}s }
  - name: attack
    listener: attack
    backends: [{ service: $ATTACK_SERVICE }]
    timeouts: { request: ${IDLE_TIMEOUT}s, idle: ${IDLE_TIMEOUT}s }
limits:
  client_header_timeout: ${HEADER_TIMEOUT}s
$limits_extra
admin:
  address: 127.0.0.1:$PORT_ADMIN
drain_timeout: 0s
EOF
}

write_haproxy_config() {
  # timeout http-request: the whole head, and with http-buffer-request the body as well (so the
  # request timeout is the header timeout here); timeout client: any gap in client reads or
  # writes; http-keep-alive: idle between requests.
  cat >"$TMP/haproxy.cfg" <<EOF
global
  nbthread 1
  maxconn 8000
defaults
  mode http
  option http-keep-alive
  option http-buffer-request
  http-reuse always
  timeout connect 1s
  timeout http-request ${HEADER_TIMEOUT}s
  timeout client ${BODY_TIMEOUT}s
  timeout server ${IDLE_TIMEOUT}s
  timeout http-keep-alive ${IDLE_TIMEOUT}s
frontend normal
  bind 127.0.0.1:${PORT_NORMAL[haproxy]}
  default_backend normal
frontend attack
  bind 127.0.0.1:${PORT_ATTACK[haproxy]}
  default_backend $ATTACK_POOL
backend normal
  server app 127.0.0.1:$PORT_UP
backend attack
  server app 127.0.0.1:$PORT_UP_ATTACK
EOF
}

write_nginx_config() {
  mkdir -p "$TMP/nginx"
  local temp_paths="client_body_temp_path $TMP/nginx/body;
  proxy_temp_path $TMP/nginx/proxy;" m user=""
  local build_info
  build_info=$(nginx -V 2>&1)
  for m in fastcgi scgi uwsgi; do
    [[ $build_info == *"--without-http_${m}_module"* ]] || temp_paths+="
  ${m}_temp_path $TMP/nginx/$m;"
  done
  [[ $(id -u) == 0 ]] && user="user root;"
  # No equivalent of request_timeout: client_body_timeout is between two reads only.
  cat >"$TMP/nginx.conf" <<EOF
$user
worker_processes 1;
worker_rlimit_nofile 20000;
daemon off;
master_process on;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log warn;
events { worker_connections 10000; }
http {
  access_log off;
  $temp_paths
  client_header_timeout ${HEADER_TIMEOUT}s;
  client_body_timeout ${BODY_TIMEOUT}s;
  send_timeout ${IDLE_TIMEOUT}s;
  keepalive_timeout ${IDLE_TIMEOUT}s;
  keepalive_requests 1000000;
  upstream normal { server 127.0.0.1:$PORT_UP; keepalive 64; }
  upstream attack { server 127.0.0.1:$PORT_UP_ATTACK; keepalive 64; }
  server {
    listen 127.0.0.1:${PORT_NORMAL[nginx]};
    location / {
      proxy_pass http://normal;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_request_buffering off;
    }
  }
  server {
    listen 127.0.0.1:${PORT_ATTACK[nginx]};
    location / {
      proxy_pass http://$ATTACK_POOL;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_request_buffering off;
    }
  }
}
EOF
}

# Starts proxy $1; sets PROXY_PID (the process whose CPU and RSS are measured).
start_proxy() {
  local p=$1
  case $p in
  weir)
    write_weir_config
    "${PROXY_PIN[@]}" "$BUILD/weir" --config "$TMP/weir.yaml" >"$TMP/weir.log" 2>&1 &
    PROXY_MAIN=$!
    PROXY_PID=$PROXY_MAIN
    ;;
  haproxy)
    write_haproxy_config
    "${PROXY_PIN[@]}" haproxy -db -f "$TMP/haproxy.cfg" >"$TMP/haproxy.log" 2>&1 &
    PROXY_MAIN=$!
    PROXY_PID=$PROXY_MAIN
    ;;
  nginx)
    write_nginx_config
    "${PROXY_PIN[@]}" nginx -p "$TMP/nginx" -c "$TMP/nginx.conf" -e "$TMP/nginx-error.log" \
      >"$TMP/nginx.log" 2>&1 &
    PROXY_MAIN=$!
    ;;
  esac
  PIDS+=("$PROXY_MAIN")
  wait_port "$PROXY_MAIN" "${PORT_NORMAL[$p]}" "$p" "$TMP/$p.log"
  wait_port "$PROXY_MAIN" "${PORT_ATTACK[$p]}" "$p" "$TMP/$p.log"
  if [[ $p == nginx ]]; then
    PROXY_PID=$(ps -o pid= --ppid "$PROXY_MAIN" | head -n 1 | tr -d ' ')
    [[ -n $PROXY_PID ]] || die "nginx worker process not found"
  fi
  local status
  status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:${PORT_NORMAL[$p]}/")
  [[ $status == 200 ]] || die "$p answered $status instead of 200"
}

# --- one measurement window ------------------------------------------------------------------
# Server-side sockets of the attack listener, every SAMPLE_PERIOD s: "T epoch" then
# "STATE peer" lines (ESTAB and CLOSE-WAIT only; the listening socket and closed ones left out).
sample_sockets() {
  local port=$1 out=$2
  while :; do
    echo "T $(date +%s.%N)"
    ss -Htn state established state close-wait "( sport = :$port )" 2>/dev/null |
      awk '{print $1, $5}'
    sleep "$SAMPLE_PERIOD"
  done >"$out"
}
# weir's open client connections gauge, every 0.5 s: "epoch value".
sample_gauge() {
  local out=$1
  while :; do
    v=$(curl -s --max-time 1 "http://127.0.0.1:$PORT_ADMIN/metrics" |
      awk '$1 == "weir_client_connections" {print $2}')
    echo "$(date +%s.%N) ${v:-?}"
    sleep 0.5
  done >"$out"
}

# Sets ATTACK_CMD to the slowhttptest command line of attack $1 against URL base $2, running at
# most $3 s.
attack_cmd() {
  local a=$1 base=$2 secs=$3
  ATTACK_CMD=(slowhttptest -c "$CONNS" -r "$RATE" -l "$secs" -p 3)
  case $a in
  headers) ATTACK_CMD+=(-H -i 1 -x 24 -u "$base/") ;;
  # slowhttptest sends follow-up body bytes to all its connections on one tick every -i s;
  # each restarts the body gap, so the gap attack sends none at all within its run.
  body-gap) ATTACK_CMD+=(-B -i $((secs + 10)) -x 10 -s 8192 -u "$base/") ;;
  body-trickle) ATTACK_CMD+=(-B -i 1 -x 2 -s 65536 -u "$base/") ;;
  read) ATTACK_CMD+=(-X -w 512 -y 1024 -n 5 -z 32 -k 1 -u "$base/big?bytes=$READ_BYTES") ;;
  esac
}
# The timeout meant to end attack $1, in seconds, and its name (README: each proxy's setting).
attack_timeout() {
  case $1 in
  headers) echo "$HEADER_TIMEOUT header" ;;
  body-gap) echo "$BODY_TIMEOUT body-gap" ;;
  body-trickle) echo "$REQUEST_TIMEOUT request" ;;
  read) echo "$IDLE_TIMEOUT idle" ;;
  esac
}

# Runs one window on proxy $1 with attack $2 ("none": no attack); label $3; target $4: "proxy"
# (the attack goes to the proxy's attack listener) or "control" (the same attack goes to the
# attack upstream directly, so the proxy never sees it: what slowhttptest's own CPU use on
# CPU 1 does to the normal traffic's latency). Appends one result line to $TMP/results.
run_window() {
  local p=$1 a=$2 label=$3 target=${4:-proxy}
  local dir="$TMP/$p-$label"
  mkdir -p "$dir"
  local port_attack=${PORT_ATTACK[$p]}
  [[ $target == control ]] && port_attack=$ATTACK_UPSTREAM
  sample_sockets "$port_attack" "$dir/sockets" &
  local sampler=$!
  PIDS+=("$sampler")
  local gauge=""
  if [[ $p == weir ]]; then
    sample_gauge "$dir/gauge" &
    gauge=$!
    PIDS+=("$gauge")
  fi
  # The first wave runs whole: its timeout, plus the time to open CONNS connections, plus 4 s
  # before slowhttptest's own time limit would end it; the window is at least that plus 2 s.
  local limit=0 limit_name="-" window=$WINDOW wave_secs=0
  if [[ $a != none ]]; then
    read -r limit limit_name <<<"$(attack_timeout "$a")"
    wave_secs=$((limit + (CONNS + RATE - 1) / RATE + 4))
    ((window >= wave_secs + 2)) || window=$((wave_secs + 2))
  fi
  local rss_before cpu_before
  rss_before=$(awk '/^VmRSS:/ {print $2}' "/proc/$PROXY_PID/status")
  cpu_before=$(cpu_ticks "$PROXY_PID")
  "${CLIENT_PIN[@]}" wrk -t1 -c"$WRK_CONNS" -d"${window}s" --timeout 2s --latency \
    -s "$TMP/pace.lua" "http://127.0.0.1:${PORT_NORMAL[$p]}/" >"$dir/wrk.txt" 2>&1 &
  local wrk_pid=$!
  PIDS+=("$wrk_pid")
  local waves=0 rss_peak=$rss_before kmem_before kmem_peak
  kmem_before=$(tcp_mem_pages)
  kmem_peak=$kmem_before
  if [[ $a != none ]]; then
    # Waves of CONNS slow connections, back to back, until one second before the window ends;
    # a later wave may be cut short by the window's end (its connections then count as closed by
    # the client, or as held if they were already older than the timeout allows).
    local start end now
    start=$(date +%s)
    end=$((start + window))
    sleep 1
    while now=$(date +%s) && ((end - now >= 3)); do
      waves=$((waves + 1))
      local secs=$((end - now - 1))
      ((secs <= wave_secs)) || secs=$wave_secs
      attack_cmd "$a" "http://127.0.0.1:$port_attack" "$secs"
      "${ATTACK_PIN[@]}" "${ATTACK_CMD[@]}" -g -o "$dir/wave$waves" >"$dir/wave$waves.out" 2>&1 &
      local slow_pid=$!
      PIDS+=("$slow_pid")
      while kill -0 "$slow_pid" 2>/dev/null; do
        local rss
        rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$PROXY_PID/status")
        ((rss > rss_peak)) && rss_peak=$rss
        local kmem
        kmem=$(tcp_mem_pages)
        ((kmem > kmem_peak)) && kmem_peak=$kmem
        sleep 0.5
      done
      stop_pid "$slow_pid"
    done
  fi
  wait "$wrk_pid" || die "wrk failed on $p ($label): $(tail -n 5 "$dir/wrk.txt")"
  stop_pid "$wrk_pid"
  local cpu_after rss_after
  cpu_after=$(cpu_ticks "$PROXY_PID")
  # Let the last slow connections go (they were closed by slowhttptest's time limit) and the
  # proxy notice, so the next window starts clean: at most 10 s. (The control's port also has
  # the proxy's pooled upstream connections: nothing to wait for there.)
  for _ in $(seq 50); do
    [[ $target == control ]] && break
    [[ -z $(ss -Htn state established "( sport = :$port_attack )" 2>/dev/null) ]] && break
    sleep 0.2
  done
  sleep 0.5
  stop_pid "$sampler"
  [[ -n $gauge ]] && stop_pid "$gauge"
  rss_after=$(awk '/^VmRSS:/ {print $2}' "/proc/$PROXY_PID/status")

  local rps p50 p99 errs n
  read -r rps p50 p99 errs n <<<"$(parse_wrk <"$dir/wrk.txt")"
  local cpu_us_per_req
  cpu_us_per_req=$(awk -v d=$((cpu_after - cpu_before)) -v t="$CLK_TCK" -v n="$n" \
    'BEGIN { if (n > 0) printf "%.1f", d / t * 1e6 / n; else print "nan" }')
  local cpu_share
  cpu_share=$(awk -v d=$((cpu_after - cpu_before)) -v t="$CLK_TCK" -v w="$WINDOW" \
    'BEGIN { printf "%.0f", d / t / w * 100 }')

  # Lifetimes of the attack's connections on the proxy side, from the socket samples. A peer
  # address missing from a sample and seen again later is a new connection (ports get reused);
  # counting samples, not seconds, keeps a starved sampler from splitting one connection.
  local lifetimes="- - - - - - -" stall=0
  if [[ $a != none && $target == proxy ]]; then
    lifetimes=$(awk -v limit="$limit" -v tol="$TOLERANCE" '
      # Ends connection k: closed by the client if the proxy side saw CLOSE-WAIT, else by the
      # proxy (its last ESTABLISHED sample). Open longer than limit + tol either way: held.
      function finish(k,   age) {
        conns++
        if (k in cw) {
          age = cw[k] - first[k]
          if (age > limit + tol) held++
          else by_client++
        } else {
          age = last_estab[k] - first[k]
          by_proxy++
          ages[by_proxy] = age
          if (age > maxp) maxp = age
          if (age > limit + tol) held++
        }
        delete first[k]; delete last_estab[k]; delete cw[k]; delete seen[k]
      }
      $1 == "T" { t = $2; sample++; next }
      {
        k = $2
        if ((k in seen) && sample - seen[k] > 1) finish(k)
        if (!(k in first)) first[k] = t
        seen[k] = sample
        if ($1 == "ESTAB") { last_estab[k] = t; n_now[sample]++ }
        else if (!(k in cw)) cw[k] = t
        if (n_now[sample] > peak) peak = n_now[sample]
      }
      END {
        for (k in first) {
          # Still open when sampling stopped.
          if (!(k in cw) && seen[k] == sample) {
            conns++
            if (t - first[k] > limit + tol) held++
            delete first[k]
          }
        }
        for (k in first) finish(k)
        m = by_proxy
        # median of the ages closed by the proxy (insertion sort is fine for a few thousand)
        for (i = 2; i <= m; i++) { v = ages[i]; j = i - 1; while (j > 0 && ages[j] > v) { ages[j + 1] = ages[j]; j-- } ages[j + 1] = v }
        med = m ? ages[int((m + 1) / 2)] : 0
        printf "%d %d %d %d %.2f %.2f %d\n", conns, by_proxy, by_client, held, med, maxp, peak
      }' "$dir/sockets")
    # The longest pause between two samples: the machine (not the proxy alone) stalled that long.
    stall=$(awk '$1 == "T" { if (pt && $2 - pt > m) m = $2 - pt; pt = $2 } END { printf "%.1f", m }' \
      "$dir/sockets")
  fi
  local gauge_peak="-"
  if [[ -n $gauge ]]; then
    gauge_peak=$(awk '$2 != "?" && $2 > m {m = $2} END {print m + 0}' "$dir/gauge")
  fi
  local unavailable=0 f
  for f in "$dir"/wave*.csv; do
    [[ -e $f ]] || continue
    unavailable=$((unavailable + $(awk -F, 'NR > 1 && $5 == 0 {n++} END {print n + 0}' "$f")))
  done
  # slowhttptest ends a wave early with "No open connections left" when the other side closed
  # every one of its connections; "waves" is shown as all/ended that way.
  local emptied=0
  for f in "$dir"/wave*.out; do
    [[ -e $f ]] || continue
    grep -q "No open connections left" "$f" && emptied=$((emptied + 1))
  done
  echo "$p $label $target $a $limit $limit_name $waves/$emptied $lifetimes $gauge_peak $unavailable $rps $p50 $p99 $errs $n $cpu_us_per_req $cpu_share $rss_before $rss_peak $rss_after $(((kmem_peak - kmem_before) * $(getconf PAGESIZE) / 1048576)) $stall" >>"$TMP/results"
  log "$p $label: normal $rps req/s p99 $(fmt_us "$p99") errors $errs; proxy CPU $cpu_share% ($cpu_us_per_req us/req)$([[ $a != none && $target == proxy ]] && echo "; slow conns (seen by-proxy by-client held-past-limit median max peak) $lifetimes; waves (all/emptied) $waves/$emptied")"
}

cat >"$TMP/pace.lua" <<EOF
-- Each connection waits ${PACE_MS} ms between its requests: a steady rate well below saturation.
function delay() return $PACE_MS end
EOF

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
: >"$TMP/results"
for p in "${PROXIES[@]}"; do
  log "starting $p on CPU $PROXY_CPU (normal :${PORT_NORMAL[$p]}, attack :${PORT_ATTACK[$p]})"
  start_proxy "$p"
  "${CLIENT_PIN[@]}" wrk -t1 -c"$WRK_CONNS" -d1s -s "$TMP/pace.lua" \
    "http://127.0.0.1:${PORT_NORMAL[$p]}/" >/dev/null 2>&1 || true
  # A window without any attack first and last; between them, per attack and round, the attack
  # on the proxy and the same attack on the upstream (control), in turns.
  run_window "$p" none quiet-first
  for a in "${ATTACKS[@]}"; do
    for ((r = 1; r <= ROUNDS; r++)); do
      if ((r % 2)); then
        run_window "$p" "$a" "$a-$r"
        run_window "$p" "$a" "$a-control-$r" control
      else
        run_window "$p" "$a" "$a-control-$r" control
        run_window "$p" "$a" "$a-$r"
      fi
      kill -0 "$PROXY_MAIN" 2>/dev/null || die "$p exited during the $a attack (log: $TMP/$p.log)"
    done
  done
  run_window "$p" none quiet-last
  stop_pid "$PROXY_MAIN"
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# --- table -----------------------------------------------------------------------------------
{
  echo "slow-client attacks, $started, $(uname -r), $(nproc) CPUs; proxy on CPU $PROXY_CPU, wrk + slowhttptest + upstream on CPU $CLIENT_CPU"
  echo "slowhttptest: $CONNS connections per wave at $RATE/s, waves back to back for ${WINDOW}s; normal: wrk -t1 -c$WRK_CONNS, ${PACE_MS} ms pause per request, ${WINDOW}s"
  [[ $SHARED_UPSTREAM == 1 ]] && echo "SHARED_UPSTREAM=1: the attack and the normal traffic go to the same upstream service"
  echo "timeouts: header ${HEADER_TIMEOUT}s, body gap ${BODY_TIMEOUT}s, request ${REQUEST_TIMEOUT}s$([[ $LIMITS == 0 ]] && echo " (body and request timeouts NOT configured: LIMITS=0)"), idle ${IDLE_TIMEOUT}s; pass: closed by the proxy within timeout + ${TOLERANCE}s"
  echo "load average: $load_start at start, $load_end at end"
  echo
  # results fields: 1 proxy, 2 label, 3 target, 4 attack, 5 limit, 6 limit name, 7 waves,
  # 8 seen, 9 closed by proxy, 10 closed by client, 11 held past limit, 12 median, 13 max,
  # 14 peak (ss), 15 gauge peak, 16 probe-unavailable seconds, 17 req/s, 18 p50, 19 p99,
  # 20 errors, 21 requests, 22 CPU us/request, 23 CPU %, 24-26 RSS before/peak/after,
  # 27 peak growth of the kernel's TCP memory in MB, 28 longest pause of the socket sampler.
  # Rows: the quiet windows as they are; attacks and controls summed over their rounds (median
  # p99 and median of the median lifetimes, worst max, sums of counts).
  awk -v tol="$TOLERANCE" -v conns="$CONNS" '
    function fmt(v) { return v >= 1000 ? sprintf("%.2f ms", v / 1000) : sprintf("%.0f us", v) }
    function pct(v, b) { return b > 0 ? sprintf("%+.0f%%", (v / b - 1) * 100) : "-" }
    function median(list,   n, v, i, j, x) {
      n = split(list, v, " ")
      for (i = 2; i <= n; i++) { x = v[i]; j = i - 1; while (j > 0 && v[j] + 0 > x + 0) { v[j + 1] = v[j]; j-- } v[j + 1] = x }
      return n ? (n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2) : 0
    }
    function max(a, b) { return a + 0 > b + 0 ? a : b }
    {
      p = $1; target = $3; a = $4
      if (a == "none") { k = p SUBSEP $2 } else { k = p SUBSEP a SUBSEP target }
      if (!(k in n)) { order[++nk] = k; rss_b[k] = $24 }
      n[k]++
      kind[k] = a == "none" ? "quiet" : target; name[k] = a == "none" ? $2 : (target == "control" ? a "-control" : a)
      prox[k] = p; lim[k] = $5 "s " $6
      split($7, w, "/"); waves[k] += w[1]; emptied[k] += w[2]
      seen[k] += $8; byp[k] += $9; byc[k] += $10; held[k] += $11
      meds[k] = meds[k] " " $12; mx[k] = max(mx[k], $13); peak[k] = max(peak[k], $14)
      gauge[k] = max(gauge[k], $15); probe[k] += $16; rps[k] += $17; p99s[k] = p99s[k] " " $19
      errs[k] += $20; cpu[k] += $22; kmem[k] = max(kmem[k], $27); rss_p[k] = max(rss_p[k], $25)
      rss_a[k] = $26; stall[k] = max(stall[k], $28)
      if (a == "none") quiet[p] = quiet[p] " " $19
    }
    END {
      hdr = "%-7s %-16s %-11s %5s %5s %5s %6s %4s %6s %6s %5s %5s %5s %6s %9s %7s %8s %6s %7s %5s %s\n"
      printf hdr, "proxy", "window", "timeout", "waves", "slow", "proxy", "client", "held",
        "median", "max", "peak", "gauge", "probe", "req/s", "p99", "vs ctrl", "vs quiet",
        "errors", "CPU/req", "kmem", "RSS KiB before/peak/after"
      for (o = 1; o <= nk; o++) {
        k = order[o]; p = prox[k]
        rss = rss_b[k] "/" rss_p[k] "/" rss_a[k]
        p99 = median(p99s[k])
        rate = sprintf("%.0f", rps[k] / n[k]); c = sprintf("%.1fus", cpu[k] / n[k])
        if (kind[k] != "proxy") {
          printf hdr, p, name[k], "-", kind[k] == "control" ? waves[k] "/" emptied[k] : "-", "-",
            "-", "-", "-", "-", "-", "-", "-", "-", rate, fmt(p99), "-", "-", errs[k], c,
            kind[k] == "control" ? kmem[k] "M" : "-", rss
          if (errs[k] > 0) verdict[++nv] = sprintf("%s %s: normal errors: %d", p, name[k], errs[k])
          continue
        }
        ck = p SUBSEP name[k] SUBSEP "control"
        ctrl = median(p99s[ck])
        qt = median(quiet[p])
        printf hdr, p, name[k], lim[k], waves[k] "/" emptied[k], seen[k], byp[k], byc[k], held[k],
          sprintf("%.2fs", median(meds[k])), sprintf("%.2fs", mx[k]), peak[k], gauge[k],
          probe[k] "s", rate, fmt(p99), pct(p99, ctrl), pct(p99, qt), errs[k], c, kmem[k] "M", rss
        ok = (held[k] == 0 && errs[k] == 0 && ctrl > 0 && p99 <= ctrl * 1.2)
        verdict[++nv] = sprintf("%s %s: %s (held past timeout: %d, normal errors: %d, p99 %s vs control, %s vs quiet)%s",
          p, name[k], ok ? "PASS" : "FAIL", held[k], errs[k], pct(p99, ctrl), pct(p99, qt),
          stall[k] > 1 ? sprintf("; the machine stalled up to %.1f s in these windows (ss sampler): rerun", stall[k]) : "")
      }
      print ""
      print "waves = slowhttptest runs of " conns " connections / those that ended because the other side"
      print "had closed all of them; slow = attack connections seen; proxy / client = closed by the"
      print "proxy / by slowhttptest (its probe, the end of a cut wave) - a client close the proxy"
      print "answers within 0.2 s counts as the proxy'"'"'s; held = open longer than timeout + " tol "s;"
      print "median / max = time open of those the proxy closed (ss every 0.2 s); peak = most open"
      print "at once (ss); gauge = peak of weir_client_connections (all listeners); probe = seconds"
      print "slowhttptest saw its probe fail; p99 = median over the rounds; vs ctrl = against the"
      print "control windows (the same attack sent to the upstream directly, proxy untouched); vs"
      print "quiet = against the windows without any attack; CPU/req = proxy CPU time per normal"
      print "request (the attack'"'"'s work included); kmem = peak growth of the kernel TCP memory"
      print "(/proc/net/sockstat, machine-wide). PASS: nothing held past its timeout, no normal"
      print "errors, p99 within +20% of the control."
      print ""
      for (i = 1; i <= nv; i++) print verdict[i]
    }' "$TMP/results"
} | tee "$TMP/table.txt"
if [[ -n ${OUT:-} ]]; then
  mkdir -p "$(dirname "$OUT")"
  cp "$TMP/table.txt" "$OUT"
fi
