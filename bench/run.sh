#!/usr/bin/env bash
# Side-by-side proxy benchmark: wrk against (a) the upstream directly, (b) weir, (c) nginx and
# (d) HAProxy, alternating targets round by round, then the resident memory each proxy spends on
# an idle keep-alive client connection. One invocation does everything and prints one table.
#
# Every proxy runs one worker pinned to PROXY_CPU (default 0), in front of the same two
# weir-demo-upstream processes with the same 90/10 split and keep-alive upstream connections.
# wrk and the upstreams share CLIENT_CPU (default 1), so on a 2-core machine the proxy has a core
# to itself and everything else competes for the other one.
#
# Environment (defaults):
#   ROUNDS=3         measured rounds per target; the table shows the median
#   DURATION=10s     wrk duration per measurement
#   WARMUP=1s        wrk warm-up before every measurement (not counted)
#   CONNS=64         wrk connections
#   IDLE_CONNS=5000  idle keep-alive connections for the memory measurement (0 skips it)
#   BASE_PORT        ports BASE_PORT+1..+13 on 127.0.0.1 (default: first free block from 23000)
#   PROXY_CPU=0 CLIENT_CPU=1
#   NICE=N           run everything it starts with nice -n N (e.g. -10 as root on a shared
#                    machine, so other work disturbs the measurement less)
#   BUILD=<repo>/build   where weir, weir-demo-upstream and bench/idle_clients are
#   OUT=FILE         also write the final table to FILE
#   KEEP_TMP=1       keep the temp dir (configs and logs) after the run
#
# Needs: wrk, nginx, haproxy, taskset (apt-get install wrk nginx-light haproxy util-linux) and a
# release build (ninja -C build). Builds and installs nothing itself.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-1s}
CONNS=${CONNS:-64}
IDLE_CONNS=${IDLE_CONNS:-5000}
BASE_PORT=${BASE_PORT:-}
PROXY_CPU=${PROXY_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}

port_free() { [[ -z $(ss -Htln "sport = :$1" 2>/dev/null) ]]; }
set_ports() {
  PORT_V1=$(($1 + 1)) PORT_V2=$(($1 + 2))
  PORT_WEIR=$(($1 + 11)) PORT_NGINX=$(($1 + 12)) PORT_HAPROXY=$(($1 + 13))
}
ports_free() {
  local port
  for port in $PORT_V1 $PORT_V2 $PORT_WEIR $PORT_NGINX $PORT_HAPROXY; do
    port_free "$port" || return 1
  done
}
TARGETS=(direct weir nginx haproxy)
PROXIES=(weir nginx haproxy)

die() {
  echo "bench/run.sh: $*" >&2
  exit 1
}
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# --- prerequisites ---------------------------------------------------------------------------
missing=()
for tool in wrk nginx haproxy taskset; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
  die "missing: ${missing[*]}; install with: apt-get install wrk nginx-light haproxy"
fi
for bin in "$BUILD/weir" "$BUILD/weir-demo-upstream" "$BUILD/bench/idle_clients"; do
  [[ -x $bin ]] || die "$bin not found; build first: ninja -C ${BUILD#"$ROOT"/}"
done
if [[ $(id -u) != 0 ]]; then
  log "note: not root; nginx runs without 'user' switching and ulimits may stay low"
fi
ncpu=$(nproc)
if ((ncpu < 2)); then
  log "warning: $ncpu CPU; proxy and client share it, numbers are not comparable"
  PROXY_CPU=0 CLIENT_CPU=0
fi
# Pinning (and, with NICE set, priority) of every process the benchmark starts.
PROXY_PIN=(taskset -c "$PROXY_CPU")
CLIENT_PIN=(taskset -c "$CLIENT_CPU")
if [[ -n ${NICE:-} ]]; then
  PROXY_PIN=(nice -n "$NICE" "${PROXY_PIN[@]}")
  CLIENT_PIN=(nice -n "$NICE" "${CLIENT_PIN[@]}")
fi
# Other tests may run on this machine: take the first free block of ports below the ephemeral
# range unless BASE_PORT names one.
if [[ -n $BASE_PORT ]]; then
  set_ports "$BASE_PORT"
  ports_free || die "a port in $((BASE_PORT + 1))..$((BASE_PORT + 13)) is in use; pick another BASE_PORT"
else
  for ((base = 23000; base < 32000; base += 100)); do
    set_ports "$base"
    ports_free && break
  done
  ports_free || die "no free block of ports found; set BASE_PORT"
fi

# File descriptors: IDLE_CONNS client sockets on each side plus upstream connections.
nofile_start=$(ulimit -n)
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
if ((NOFILE < IDLE_CONNS + 1000)); then
  die "ulimit -n is $NOFILE (hard $(ulimit -Hn)); need at least $((IDLE_CONNS + 1000)) for IDLE_CONNS=$IDLE_CONNS"
fi
# HAProxy reserves two fds per connection (client + server) and refuses to start otherwise.
HAPROXY_MAXCONN=$(((NOFILE - 200) / 2))
((HAPROXY_MAXCONN > 20000)) && HAPROXY_MAXCONN=20000
((HAPROXY_MAXCONN < IDLE_CONNS + 100)) && die "ulimit -n $NOFILE too low for HAProxy with $IDLE_CONNS connections"

TMP=$(mktemp -d /tmp/weir-bench.XXXXXX)
PIDS=()
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    local alive=0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.2
  done
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  if [[ ${KEEP_TMP:-0} == 1 || $rc != 0 ]]; then
    echo "bench/run.sh: configs and logs kept in $TMP" >&2
  else
    rm -rf "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

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

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# --- upstreams -------------------------------------------------------------------------------
log "starting upstreams on CPU $CLIENT_CPU: app-v1 :$PORT_V1, app-v2 :$PORT_V2"
"${CLIENT_PIN[@]}" "$BUILD/weir-demo-upstream" --listen "127.0.0.1:$PORT_V1" \
  --name app-v1 >"$TMP/app-v1.log" 2>&1 &
PIDS+=($!)
wait_port $! "$PORT_V1" app-v1 "$TMP/app-v1.log"
"${CLIENT_PIN[@]}" "$BUILD/weir-demo-upstream" --listen "127.0.0.1:$PORT_V2" \
  --name app-v2 >"$TMP/app-v2.log" 2>&1 &
PIDS+=($!)
wait_port $! "$PORT_V2" app-v2 "$TMP/app-v2.log"

# --- weir ------------------------------------------------------------------------------------
cat >"$TMP/weir.yaml" <<EOF
workers: 1
listeners:
  - name: bench
    address: 127.0.0.1:$PORT_WEIR
services:
  - namespace: app-v1
    name: app
    endpoints: [127.0.0.1:$PORT_V1]
    max_idle_connections: 64
  - namespace: app-v2
    name: app
    endpoints: [127.0.0.1:$PORT_V2]
    max_idle_connections: 64
routes:
  - name: split
    listener: bench
    backends:
      - service: app-v1/app
        weight: 90
      - service: app-v2/app
        weight: 10
    timeouts:
      idle: 300s
drain_timeout: 0s
EOF
log "starting weir on CPU $PROXY_CPU :$PORT_WEIR"
"${PROXY_PIN[@]}" "$BUILD/weir" --config "$TMP/weir.yaml" >"$TMP/weir.log" 2>&1 &
WEIR_PID=$!
PIDS+=("$WEIR_PID")
wait_port "$WEIR_PID" "$PORT_WEIR" weir "$TMP/weir.log"

# --- nginx -----------------------------------------------------------------------------------
mkdir -p "$TMP/nginx"
nginx_temp_paths="client_body_temp_path $TMP/nginx/body;
  proxy_temp_path $TMP/nginx/proxy;"
nginx_build=$(nginx -V 2>&1)
for m in fastcgi scgi uwsgi; do
  if [[ $nginx_build != *"--without-http_${m}_module"* ]]; then
    nginx_temp_paths+="
  ${m}_temp_path $TMP/nginx/$m;"
  fi
done
nginx_user=""
[[ $(id -u) == 0 ]] && nginx_user="user root;"
cat >"$TMP/nginx.conf" <<EOF
$nginx_user
worker_processes 1;
worker_rlimit_nofile $NOFILE;
daemon off;
master_process on;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log warn;
events {
  worker_connections $((NOFILE - 100));
}
http {
  access_log off;
  keepalive_timeout 300s;
  keepalive_requests 1000000;
  $nginx_temp_paths
  upstream app {
    server 127.0.0.1:$PORT_V1 weight=90;
    server 127.0.0.1:$PORT_V2 weight=10;
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:$PORT_NGINX;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF
log "starting nginx (1 worker) on CPU $PROXY_CPU :$PORT_NGINX"
"${PROXY_PIN[@]}" nginx -p "$TMP/nginx" -c "$TMP/nginx.conf" -e "$TMP/nginx-error.log" \
  >"$TMP/nginx.log" 2>&1 &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
wait_port "$NGINX_PID" "$PORT_NGINX" nginx "$TMP/nginx-error.log"
NGINX_WORKER=$(ps -o pid= --ppid "$NGINX_PID" | head -n 1 | tr -d ' ')
[[ -n $NGINX_WORKER ]] || die "nginx worker process not found"

# --- HAProxy ---------------------------------------------------------------------------------
cat >"$TMP/haproxy.cfg" <<EOF
global
  nbthread 1
  maxconn $HAPROXY_MAXCONN
defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 1s
  timeout client 300s
  timeout server 30s
  timeout http-keep-alive 300s
frontend bench
  bind 127.0.0.1:$PORT_HAPROXY
  maxconn $HAPROXY_MAXCONN
  default_backend app
backend app
  balance roundrobin
  server app-v1 127.0.0.1:$PORT_V1 weight 90
  server app-v2 127.0.0.1:$PORT_V2 weight 10
EOF
log "starting HAProxy (nbthread 1, maxconn $HAPROXY_MAXCONN) on CPU $PROXY_CPU :$PORT_HAPROXY"
"${PROXY_PIN[@]}" haproxy -db -f "$TMP/haproxy.cfg" >"$TMP/haproxy.log" 2>&1 &
HAPROXY_PID=$!
PIDS+=("$HAPROXY_PID")
wait_port "$HAPROXY_PID" "$PORT_HAPROXY" haproxy "$TMP/haproxy.log"

url_of() {
  case $1 in
  direct) echo "http://127.0.0.1:$PORT_V1/" ;;
  weir) echo "http://127.0.0.1:$PORT_WEIR/" ;;
  nginx) echo "http://127.0.0.1:$PORT_NGINX/" ;;
  haproxy) echo "http://127.0.0.1:$PORT_HAPROXY/" ;;
  esac
}
pid_of() {
  case $1 in
  weir) echo "$WEIR_PID" ;;
  nginx) echo "$NGINX_WORKER" ;;
  haproxy) echo "$HAPROXY_PID" ;;
  esac
}

# Status line of one GET / on 127.0.0.1:$1 (bash's /dev/tcp; no curl needed).
status_line() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'GET / HTTP/1.1\r\nHost: bench.local\r\nConnection: close\r\n\r\n' >&3
    IFS= read -r -t 5 line <&3 && echo "${line%$'\r'}"
  ) 2>/dev/null || echo "no answer"
}
# Every target answers 200 before anything is measured.
for t in "${TARGETS[@]}"; do
  port=$(url_of "$t" | sed -E 's#.*:([0-9]+)/$#\1#')
  line=$(status_line "$port")
  [[ $line == "HTTP/1.1 200 "* ]] || die "$t answered '$line' instead of 200"
done

# Prints "req/s p50_us p99_us errors" from wrk --latency output on stdin.
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
    $1 == "Requests/sec:" { rps = $2 }
    /Non-2xx or 3xx responses:/ { err += $NF }
    /Socket errors:/ { for (i = 3; i <= NF; i++) { v = $i; sub(/,$/, "", v); if (v ~ /^[0-9]+$/) err += v } }
    END { printf "%.0f %.1f %.1f %d\n", rps, p50, p99, err }'
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR] = $1} END {
  if (NR == 0) { print "nan"; exit }
  if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

fmt_us() { awk -v v="$1" 'BEGIN { if (v >= 1000) printf "%.2f ms", v / 1000; else printf "%.0f us", v }'; }

declare -A RPS P50 P99 ERRS IDLE_BYTES IDLE_RSS
for t in "${TARGETS[@]}"; do RPS[$t]="" P50[$t]="" P99[$t]="" ERRS[$t]=0; done

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
log "load average at start: $load_start"

# --- throughput: alternate targets, rotating the order every round ---------------------------
for ((r = 0; r < ROUNDS; r++)); do
  for ((k = 0; k < ${#TARGETS[@]}; k++)); do
    t=${TARGETS[$(((k + r) % ${#TARGETS[@]}))]}
    url=$(url_of "$t")
    "${CLIENT_PIN[@]}" wrk -t1 -c"$CONNS" -d"$WARMUP" "$url" >/dev/null 2>&1 || true
    out=$("${CLIENT_PIN[@]}" wrk -t1 -c"$CONNS" -d"$DURATION" --latency "$url" 2>&1) ||
      die "wrk against $t failed: $out"
    echo "$out" >>"$TMP/wrk-$t.txt"
    read -r rps p50 p99 errs <<<"$(echo "$out" | parse_wrk)"
    RPS[$t]+=" $rps" P50[$t]+=" $p50" P99[$t]+=" $p99"
    ERRS[$t]=$((ERRS[$t] + errs))
    log "round $((r + 1))/$ROUNDS $(printf '%-8s' "$t") $(printf '%8s' "$rps") req/s" \
      " p50 $(fmt_us "$p50")  p99 $(fmt_us "$p99")$( ((errs)) && echo "  ($errs errors)")"
  done
done

# --- resident memory per idle keep-alive connection ------------------------------------------
if ((IDLE_CONNS > 0)); then
  for p in "${PROXIES[@]}"; do
    pid=$(pid_of "$p")
    port=$(url_of "$p" | sed -E 's#.*:([0-9]+)/$#\1#')
    sleep 1
    before=$(rss_kib "$pid")
    "${CLIENT_PIN[@]}" "$BUILD/bench/idle_clients" 127.0.0.1 "$port" "$IDLE_CONNS" \
      >"$TMP/idle-$p.out" 2>"$TMP/idle-$p.err" &
    idle_pid=$!
    PIDS+=("$idle_pid")
    ok=0
    for _ in $(seq 1200); do
      if grep -q '^idle ' "$TMP/idle-$p.out" 2>/dev/null; then ok=1 && break; fi
      kill -0 "$idle_pid" 2>/dev/null || break
      sleep 0.05
    done
    if ((ok)); then
      sleep 2 # let the proxy settle: deferred frees, timers
      after=$(rss_kib "$pid")
      IDLE_RSS[$p]="$before -> $after KiB"
      IDLE_BYTES[$p]=$(((after - before) * 1024 / IDLE_CONNS))
      log "idle $p: RSS $before KiB -> $after KiB with $IDLE_CONNS idle connections" \
        "= ${IDLE_BYTES[$p]} B/conn"
    else
      IDLE_BYTES[$p]="fail"
      log "idle $p: client failed: $(tail -n 3 "$TMP/idle-$p.err" | tr '\n' ' ')"
    fi
    kill -TERM "$idle_pid" 2>/dev/null || true
    wait "$idle_pid" 2>/dev/null || true
    if [[ -s $TMP/idle-$p.err ]]; then
      log "idle $p: $(sort "$TMP/idle-$p.err" | uniq -c | sort -rn | head -n 1)"
    fi
  done
fi

# --- table -----------------------------------------------------------------------------------
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
hap_rps=$(echo "${RPS[haproxy]}" | median)
{
  echo "weir side-by-side benchmark, $started, $(uname -r), $ncpu CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'))"
  echo "proxies: 1 worker on CPU $PROXY_CPU; wrk + 2 upstreams on CPU $CLIENT_CPU; 90/10 split, upstream keep-alive${NICE:+; nice $NICE}"
  echo "wrk -t1 -c$CONNS -d$DURATION --latency, median of $ROUNDS alternating rounds; idle: $IDLE_CONNS connections"
  echo "load average: $load_start at start, $load_end at end; ulimit -n $nofile_start -> $NOFILE"
  echo
  printf '%-8s %10s %10s %10s %11s %14s\n' target "req/s" p50 p99 "vs HAProxy" "idle B/conn"
  for t in "${TARGETS[@]}"; do
    rps=$(echo "${RPS[$t]}" | median)
    p50=$(echo "${P50[$t]}" | median)
    p99=$(echo "${P99[$t]}" | median)
    ratio="-"
    idle="-"
    if [[ $t != direct ]]; then
      ratio=$(awk -v a="$rps" -v b="$hap_rps" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }')
      idle=${IDLE_BYTES[$t]:-"-"}
    fi
    errs=""
    ((ERRS[$t])) && errs="  (${ERRS[$t]} wrk errors)"
    printf '%-8s %10s %10s %10s %11s %14s%s\n' "$t" "$rps" "$(fmt_us "$p50")" "$(fmt_us "$p99")" \
      "$ratio" "$idle" "$errs"
  done
  if ((IDLE_CONNS > 0)); then
    for p in "${PROXIES[@]}"; do
      echo "idle RSS $p$([[ $p == nginx ]] && echo " worker"): ${IDLE_RSS[$p]:-not measured}"
    done
  fi
  echo
  weir_rps=$(echo "${RPS[weir]}" | median)
  awk -v w="$weir_rps" -v h="$hap_rps" -v m="${IDLE_BYTES[weir]:-nan}" 'BEGIN {
    r = (h > 0) ? w / h : 0
    printf "acceptance: weir req/s %.2fx HAProxy (>= 0.80): %s; ", r, (r >= 0.8) ? "PASS" : "FAIL"
    if (m == "nan" || m == "fail" || m == "-") printf "idle memory not measured\n"
    else printf "weir idle %d B/conn (<= 2048): %s\n", m, (m + 0 <= 2048) ? "PASS" : "FAIL"
  }'
} | tee "$TMP/table.txt"
if [[ -n ${OUT:-} ]]; then
  mkdir -p "$(dirname "$OUT")"
  cp "$TMP/table.txt" "$OUT"
fi
