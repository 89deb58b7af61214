# bench/lib.sh: what the side-by-side benchmark needs to start, configure, watch and stop the
# proxies and their upstreams, and to turn wrk's and strace's output into numbers. Sourced by
# bench/run.sh (not run on its own); it defines functions and the process registry only, and
# starts nothing when sourced.
#
# Every proxy instance is registered under a target name (weir, nginx, haproxy, weir-2w, ...):
#   TARGET_PORT[t]   the port it listens on (127.0.0.1)
#   CPU_PIDS[t]      the processes whose utime+stime is its CPU cost (nginx: master + workers)
#   TRACE_PIDS[t]    the processes strace attaches to (nginx: the workers)
#   RSS_PID[t]       the process whose VmRSS is its memory (nginx: the worker)
# and every process started lands in BENCH_PIDS, which bench_cleanup stops.
# shellcheck shell=bash disable=SC2034 # the registry and CLK_TCK are read by the scripts

declare -gA TARGET_PORT=() CPU_PIDS=() TRACE_PIDS=() RSS_PID=()
declare -ga BENCH_PIDS=()
BENCH_NAME=${BENCH_NAME:-bench}
CLK_TCK=$(getconf CLK_TCK)

die() {
  echo "$BENCH_NAME: $*" >&2
  exit 1
}
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

port_free() { [[ -z $(ss -Htln "sport = :$1" 2>/dev/null) ]]; }

# Picks the script's block of ports: BASE_PORT when set (every port in it must be free), else the
# first block from $1 up (steps of 100, below the ephemeral range) where all are. The script
# defines set_ports BASE (sets its port variables) and ports_free (true when all are free); $2 is
# the block's last offset, for the message.
choose_port_block() {
  local from=$1 span=$2 base
  if [[ -n $BASE_PORT ]]; then
    set_ports "$BASE_PORT"
    ports_free || die "a port in $((BASE_PORT + 1))..$((BASE_PORT + span)) is in use; pick another BASE_PORT"
    return
  fi
  for ((base = from; base < 32000; base += 100)); do
    set_ports "$base"
    ports_free && return
  done
  die "no free block of ports found; set BASE_PORT"
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

# Stops every process the benchmark started: TERM, up to 2 s of grace, then KILL.
bench_cleanup() {
  local pid alive
  for pid in "${BENCH_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 10); do
    alive=0
    for pid in "${BENCH_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.2
  done
  for pid in "${BENCH_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
}

# --- /proc readings --------------------------------------------------------------------------

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# "utime stime" in clock ticks, summed over the given processes (each one's /proc/PID/stat
# covers all its threads). The command name may hold spaces, so fields count from its ')'.
cpu_ticks() {
  local pid u=0 s=0 fields
  for pid in "$@"; do
    fields=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null) || die "process $pid is gone"
    # fields 3 (state) .. 13 (cmajflt), then 14 utime and 15 stime
    read -r _ _ _ _ _ _ _ _ _ _ _ ut st _ <<<"$fields"
    u=$((u + ut)) s=$((s + st))
  done
  echo "$u $s"
}

# Child pids of $1, waiting up to 10 s until there are $2 of them (nginx forks its workers
# after it listens).
children_of() {
  local parent=$1 want=$2 kids
  for _ in $(seq 100); do
    kids=$(ps -o pid= --ppid "$parent" | tr -s ' \n' ' ' | sed 's/^ //; s/ $//')
    [[ -n $kids ]] && (($(wc -w <<<"$kids") >= want)) && {
      echo "$kids"
      return 0
    }
    sleep 0.1
  done
  die "process $parent has not forked $want children after 10 s"
}

# --- statistics and formatting ---------------------------------------------------------------

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR] = $1} END {
  if (NR == 0) { print "nan"; exit }
  if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

fmt_us() { awk -v v="$1" 'BEGIN {
  if (v == "nan" || v == "") print "-"; else if (v >= 1000) printf "%.2f ms", v / 1000; else printf "%.0f us", v }'; }

# a / b with the given printf format, "n/a" when b is 0 or missing.
ratio() { awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" 'BEGIN {
  if (b + 0 > 0 && a != "nan" && a != "") printf f "\n", a / b; else print "n/a" }'; }

# Prints "req/s p50_us p99_us errors requests transfer_bytes_per_s" from wrk --latency output
# on stdin. Errors are non-2xx/3xx answers plus socket errors; requests is wrk's completed count.
parse_wrk() {
  awk '
    function us(v) {
      if (v ~ /us$/) { sub(/us$/, "", v); return v + 0 }
      if (v ~ /ms$/) { sub(/ms$/, "", v); return v * 1000 }
      if (v ~ /m$/)  { sub(/m$/, "", v);  return v * 60000000 }
      if (v ~ /s$/)  { sub(/s$/, "", v);  return v * 1000000 }
      return v + 0
    }
    function bytes(v) {
      if (v ~ /GB$/) { sub(/GB$/, "", v); return v * 1073741824 }
      if (v ~ /MB$/) { sub(/MB$/, "", v); return v * 1048576 }
      if (v ~ /KB$/) { sub(/KB$/, "", v); return v * 1024 }
      sub(/B$/, "", v); return v + 0
    }
    $1 == "50%" { p50 = us($2) }
    $1 == "99%" { p99 = us($2) }
    $2 == "requests" && $3 == "in" { reqs = $1 }
    $1 == "Requests/sec:" { rps = $2 }
    $1 == "Transfer/sec:" { tps = bytes($2) }
    /Non-2xx or 3xx responses:/ { err += $NF }
    /Socket errors:/ { for (i = 3; i <= NF; i++) { v = $i; sub(/,$/, "", v); if (v ~ /^[0-9]+$/) err += v } }
    END { printf "%.0f %.1f %.1f %d %d %.0f\n", rps, p50, p99, err, reqs, tps }'
}

# Prints "calls errors syscall" lines and then "calls errors total" from an `strace -c` summary
# file. Rows are "% time, seconds, usecs/call, calls, [errors,] syscall"; the errors column is
# empty for syscalls that never failed, so calls is always field 4 and the name the last field.
parse_strace() {
  awk '
    /^-+/ { sep++; next }
    sep == 1 && NF >= 5 && $4 ~ /^[0-9]+$/ { print $4, (NF == 6 ? $5 : 0), $NF }
    $NF == "total" && $4 ~ /^[0-9]+$/ { total = $4; terr = (NF == 6 ? $5 : 0) }
    END { print total + 0, terr + 0, "total" }' "$1"
}

# wrk_under_strace OUT PIDS LABEL WRK_COMMAND...: runs the wrk command (with the caller's pinning)
# while `strace -c -f` is attached to every pid of PIDS (space-separated), its summary in OUT;
# sets W_OUT, W_ERRS, W_REQS and W_STRACE_PID (ended by then), and dies when wrk fails or
# completes nothing. strace stops the traced process at every syscall, so the rate under it
# means nothing: calls per request counts.
wrk_under_strace() {
  local out=$1 pids=$2 label=$3 pid strace_pid trace_args=()
  shift 3
  for pid in $pids; do trace_args+=(-p "$pid"); done
  strace -c -f -o "$out" "${trace_args[@]}" 2>"$out.err" &
  strace_pid=$!
  BENCH_PIDS+=("$strace_pid")
  for _ in $(seq 100); do
    grep -q attached "$out.err" 2>/dev/null && break
    kill -0 "$strace_pid" 2>/dev/null || die "strace failed: $(cat "$out.err")"
    sleep 0.05
  done
  sleep 0.3 # every thread attached (-f attaches them one by one)
  W_OUT=$("$@" 2>&1) || die "wrk against $label under strace failed: $W_OUT"
  kill -INT "$strace_pid"
  wait "$strace_pid" 2>/dev/null || true
  W_STRACE_PID=$strace_pid
  read -r _ _ _ W_ERRS W_REQS _ <<<"$(parse_wrk <<<"$W_OUT")"
  ((W_REQS > 0)) || die "no requests completed against $label under strace"
}

# --- configs ---------------------------------------------------------------------------------
# All three proxies: the same two upstreams split 90/10, keep-alive upstream connections, no
# access log, client keep-alive long enough never to end a measurement.
# With TLS_CERT and TLS_KEY set (PEM files; TLS_PEM: the two in one file, which HAProxy's `crt`
# wants) the listener terminates TLS with them, TLS 1.2 at least, OpenSSL's default suites and
# groups, session resumption on (bench/tls.sh); unset, it speaks plain HTTP. The upstreams stay
# plain HTTP either way.

# write_weir_conf FILE PORT WORKERS MAX_CONNS UP1 UP2
write_weir_conf() {
  local io_line="" tls_lines=""
  [[ -n ${WEIR_IO:-} ]] && io_line="io: $WEIR_IO"
  [[ -n ${TLS_CERT:-} ]] && tls_lines="    tls:
      certificates: [{ cert: $TLS_CERT, key: $TLS_KEY }]
      min_version: TLSv1.2
      session_resumption: true"
  cat >"$1" <<EOF
workers: $3
$io_line
limits:
  max_client_connections: $4
listeners:
  - name: bench
    address: 127.0.0.1:$2
$tls_lines
services:
  - namespace: app-v1
    name: app
    endpoints: [127.0.0.1:$5]
    max_idle_connections: 64
  - namespace: app-v2
    name: app
    endpoints: [127.0.0.1:$6]
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
}

# write_nginx_conf FILE PREFIX_DIR PORT WORKERS NOFILE UP1 UP2
# proxy_max_temp_file_size 0: nginx would otherwise spool a 1 MiB response to a temp file once
# its proxy buffers are full; with 0 it relays through its buffers as the other two do.
write_nginx_conf() {
  local file=$1 dir=$2 temp_paths m user="" listen_tls="" tls_lines=""
  mkdir -p "$dir"
  temp_paths="client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;"
  for m in fastcgi scgi uwsgi; do
    if [[ $NGINX_BUILD != *"--without-http_${m}_module"* ]]; then
      temp_paths+="
  ${m}_temp_path $dir/$m;"
    fi
  done
  [[ $(id -u) == 0 ]] && user="user root;"
  # ssl_session_tickets is on by default; the shared cache is the session-id half of resumption.
  if [[ -n ${TLS_CERT:-} ]]; then
    listen_tls=" ssl"
    tls_lines="ssl_certificate $TLS_CERT;
    ssl_certificate_key $TLS_KEY;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:bench:10m;"
  fi
  cat >"$file" <<EOF
$user
worker_processes $4;
worker_rlimit_nofile $5;
daemon off;
master_process on;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events {
  worker_connections $(($5 - 100));
}
http {
  access_log off;
  keepalive_timeout 300s;
  keepalive_requests 1000000;
  $temp_paths
  upstream app {
    server 127.0.0.1:$6 weight=90;
    server 127.0.0.1:$7 weight=10;
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:$3$listen_tls;
    $tls_lines
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_max_temp_file_size 0;
    }
  }
}
EOF
}

# write_haproxy_conf FILE PORT THREADS MAXCONN UP1 UP2
# HAProxy wants two fds per maxconn (client + server side) and by default refuses to start when
# `ulimit -n` cannot give them; idle keep-alive clients hold one each (server connections go
# back to the pool), so `no strict-limits` lets it take 10,000 of them under a 20,000-fd limit.
write_haproxy_conf() {
  cat >"$1" <<EOF
global
  nbthread $3
  maxconn $4
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
  bind 127.0.0.1:$2${TLS_PEM:+ ssl crt $TLS_PEM ssl-min-ver TLSv1.2}
  maxconn $4
  default_backend app
backend app
  balance roundrobin
  server app-v1 127.0.0.1:$5 weight 90
  server app-v2 127.0.0.1:$6 weight 10
EOF
}

# --- starting and stopping -------------------------------------------------------------------

# start_proxy TARGET KIND WORKERS PORT CPUS: writes KIND's config for WORKERS workers (weir
# workers, nginx worker processes, HAProxy threads), starts it pinned to CPUS and registers it
# under TARGET. Uses TMP, NOFILE, MAX_CONNS, PORT_V1, PORT_V2, BUILD and PROXY_PRIO (nice or
# nothing).
start_proxy() {
  local t=$1 kind=$2 workers=$3 port=$4 cpus=$5 pid log_file
  local pin=("${PROXY_PRIO[@]}" taskset -c "$cpus")
  case $kind in
  weir)
    write_weir_conf "$TMP/$t.yaml" "$port" "$workers" "$MAX_CONNS" "$PORT_V1" "$PORT_V2"
    log_file=$TMP/$t.log
    "${pin[@]}" "$BUILD/weir" --config "$TMP/$t.yaml" >"$log_file" 2>&1 &
    pid=$!
    CPU_PIDS[$t]=$pid TRACE_PIDS[$t]=$pid RSS_PID[$t]=$pid
    ;;
  nginx)
    write_nginx_conf "$TMP/$t.conf" "$TMP/$t" "$port" "$workers" "$NOFILE" "$PORT_V1" "$PORT_V2"
    log_file=$TMP/$t/error.log
    "${pin[@]}" nginx -p "$TMP/$t" -c "$TMP/$t.conf" -e "$log_file" >"$TMP/$t.log" 2>&1 &
    pid=$!
    ;;
  haproxy)
    write_haproxy_conf "$TMP/$t.cfg" "$port" "$workers" "$MAX_CONNS" "$PORT_V1" "$PORT_V2"
    log_file=$TMP/$t.log
    "${pin[@]}" haproxy -db -f "$TMP/$t.cfg" >"$log_file" 2>&1 &
    pid=$!
    CPU_PIDS[$t]=$pid TRACE_PIDS[$t]=$pid RSS_PID[$t]=$pid
    ;;
  *) die "unknown proxy kind $kind" ;;
  esac
  BENCH_PIDS+=("$pid")
  TARGET_PORT[$t]=$port
  wait_port "$pid" "$port" "$t" "$log_file"
  if [[ $kind == nginx ]]; then
    local workers_pids
    workers_pids=$(children_of "$pid" "$workers")
    CPU_PIDS[$t]="$pid $workers_pids" TRACE_PIDS[$t]=$workers_pids
    RSS_PID[$t]=${workers_pids%% *}
  fi
}

# stop_proxy TARGET: TERM, then KILL after 5 s; waits until it is gone and its port is free.
stop_proxy() {
  local t=$1 pid=${CPU_PIDS[$1]%% *}
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    port_free "${TARGET_PORT[$t]}" && break
    sleep 0.1
  done
}
