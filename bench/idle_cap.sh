#!/usr/bin/env bash
# weir at its client connection cap: `limits: {max_client_connections: CAP}` with `workers: 1`,
# while IDLE_CONNS idle keep-alive connections are attempted at once
# (`build/bench/idle_clients --flood`: each connects, sends one GET, reads the answer and then
# stays idle until weir's idle timeout closes it; closed connections are not reopened) and normal
# traffic goes on:
#   - wrk, paced, on keep-alive connections opened before the flood (they hold slots of the cap);
#   - one curl per second on a new connection (it has to get through the listen backlog like the
#     flood's connections), with a deadline.
# It samples weir's RSS, its weir_client_connections gauge and the listener's accept queue every
# 0.5 s, and reports the flood's progress (answered, how long answered requests waited, closed by
# weir's idle timeout), normal traffic's errors and latency, and RSS before, at the peak and
# after. The same normal traffic runs QUIET_SECONDS without the flood first, for comparison, and
# the whole run repeats with max_client_connections left at weir's default (PHASES).
#
# Connections beyond the cap wait in the kernel's accept queue (listen backlog 4096, capped by
# net.core.somaxconn); once that is full the kernel drops new SYNs and clients retransmit them
# (after 1, 3, 7, 15, 31 s). weir accepts again as idle connections time out.
#
# Environment (defaults):
#   CAP=2000             max_client_connections (per worker; weir runs 1 worker)
#   IDLE_CONNS=15000     connections the flood attempts (the fd limit here is 20,000)
#   FLOOD_SECONDS=60     how long the flood keeps its connections (then it closes them all)
#   IDLE_TIMEOUT=5       seconds; weir closes a keep-alive connection idle this long
#   HEADER_TIMEOUT=5     seconds; client_header_timeout
#   WRK_CONNS=8 PACE_MS=2  normal traffic: wrk -t1 -c8, 2 ms pause per request per connection
#   QUIET_SECONDS=10     normal traffic alone before the flood
#   PHASES="cap default" cap: max_client_connections CAP; default: the key left out (weir's
#                        default; unlimited in a weir from before the key existed)
#   BASE_PORT            ports BASE_PORT+1..+3 (default: first free block from 25000)
#   PROXY_CPU=0 CLIENT_CPU=1
#   NICE=N               run weir, wrk, curl, the flood and the upstream with nice -n N (e.g. -10
#                        as root on a shared machine, so other work disturbs the latencies less)
#   BUILD=<repo>/build   where weir, weir-demo-upstream and bench/idle_clients are
#   OUT=FILE             also write the final table to FILE
#   KEEP_TMP=1           keep the temp dir (configs, logs, samples)
#
# Needs: wrk, curl, ss, taskset (apt-get install wrk curl iproute2 util-linux) and a release
# build (ninja -C build weir weir-demo-upstream bench/idle_clients). Builds and installs nothing.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
CAP=${CAP:-2000}
IDLE_CONNS=${IDLE_CONNS:-15000}
FLOOD_SECONDS=${FLOOD_SECONDS:-60}
IDLE_TIMEOUT=${IDLE_TIMEOUT:-5}
HEADER_TIMEOUT=${HEADER_TIMEOUT:-5}
WRK_CONNS=${WRK_CONNS:-8}
PACE_MS=${PACE_MS:-2}
QUIET_SECONDS=${QUIET_SECONDS:-10}
read -ra PHASES <<<"${PHASES:-cap default}"
BASE_PORT=${BASE_PORT:-}
PROXY_CPU=${PROXY_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}

die() {
  echo "bench/idle_cap.sh: $*" >&2
  exit 1
}
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

missing=()
for tool in wrk curl ss taskset; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
((${#missing[@]} == 0)) || die "missing: ${missing[*]}; install with: apt-get install wrk curl iproute2 util-linux"
for bin in "$BUILD/weir" "$BUILD/weir-demo-upstream" "$BUILD/bench/idle_clients"; do
  [[ -x $bin ]] || die "$bin not found; build first: ninja -C ${BUILD#"$ROOT"/} weir weir-demo-upstream bench/idle_clients"
done
for phase in "${PHASES[@]}"; do
  [[ $phase == cap || $phase == default ]] || die "unknown phase '$phase' (cap, default)"
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

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
((NOFILE >= IDLE_CONNS + 500)) || die "ulimit -n is $NOFILE; need $((IDLE_CONNS + 500)) for IDLE_CONNS=$IDLE_CONNS"

port_free() { [[ -z $(ss -Htln "sport = :$1" 2>/dev/null) ]]; }
set_ports() { PORT_UP=$(($1 + 1)) PORT_WEIR=$(($1 + 2)) PORT_ADMIN=$(($1 + 3)); }
ports_free() { port_free "$PORT_UP" && port_free "$PORT_WEIR" && port_free "$PORT_ADMIN"; }
if [[ -n $BASE_PORT ]]; then
  set_ports "$BASE_PORT"
  ports_free || die "a port in $((BASE_PORT + 1))..$((BASE_PORT + 3)) is in use; pick another BASE_PORT"
else
  for ((base = 25000; base < 32000; base += 100)); do
    set_ports "$base"
    ports_free && break
  done
  ports_free || die "no free block of ports found; set BASE_PORT"
fi

TMP=$(mktemp -d /tmp/weir-idlecap.XXXXXX)
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
    echo "bench/idle_cap.sh: configs, logs and samples kept in $TMP" >&2
  else
    rm -rf "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
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
  die "$name does not accept on port $port after 10 s"
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
CLK_TCK=$(getconf CLK_TCK)
gauge() {
  curl -s --max-time 1 "http://127.0.0.1:$PORT_ADMIN/metrics" |
    awk '$1 == "weir_client_connections" {print $2}'
}
# TcpExt ListenOverflows (SYNs or completed handshakes dropped because an accept queue was full),
# machine-wide.
listen_overflows() {
  awk '$1 == "TcpExt:" { if (!n) { for (i = 2; i <= NF; i++) name[i] = $i; n = 1 } else {
    for (i = 2; i <= NF; i++) if (name[i] == "ListenOverflows") print $i } }' /proc/net/netstat
}
parse_wrk() {
  awk '
    function us(v) {
      if (v ~ /us$/) { sub(/us$/, "", v); return v + 0 }
      if (v ~ /ms$/) { sub(/ms$/, "", v); return v * 1000 }
      if (v ~ /m$/)  { sub(/m$/, "", v);  return v * 60000000 }
      if (v ~ /s$/)  { sub(/s$/, "", v);  return v * 1000000 }
      return v + 0
    }
    $1 == "99%" { p99 = us($2) }
    $1 == "Latency" && NF >= 4 { max = us($4) }
    $2 == "requests" && $3 == "in" { n = $1 }
    $1 == "Requests/sec:" { rps = $2 }
    /Non-2xx or 3xx responses:/ { err += $NF }
    /Socket errors:/ { for (i = 3; i <= NF; i++) { v = $i; sub(/,$/, "", v); if (v ~ /^[0-9]+$/) err += v } }
    END { printf "%.0f %.1f %.1f %d %d\n", rps, p99, max, err, n }'
}

log "upstream on CPU $CLIENT_CPU :$PORT_UP"
"${CLIENT_PIN[@]}" "$BUILD/weir-demo-upstream" --listen "127.0.0.1:$PORT_UP" --name app \
  >"$TMP/upstream.log" 2>&1 &
PIDS+=($!)
wait_port $! "$PORT_UP" upstream "$TMP/upstream.log"

cat >"$TMP/pace.lua" <<EOF
-- Each connection waits ${PACE_MS} ms between its requests: a steady rate well below saturation.
function delay() return $PACE_MS end
EOF

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
: >"$TMP/results"
for phase in "${PHASES[@]}"; do
  dir="$TMP/$phase"
  mkdir -p "$dir"
  cap_line=""
  [[ $phase == cap ]] && cap_line="  max_client_connections: $CAP"
  cat >"$dir/weir.yaml" <<EOF
workers: 1
listeners:
  - name: public
    address: 127.0.0.1:$PORT_WEIR
services:
  - namespace: app
    name: app
    endpoints: [127.0.0.1:$PORT_UP]
    max_idle_connections: 64
routes:
  - name: app
    listener: public
    backends: [{ service: app/app }]
    timeouts: { idle: ${IDLE_TIMEOUT}s }
limits:
  client_header_timeout: ${HEADER_TIMEOUT}s
$cap_line
admin:
  address: 127.0.0.1:$PORT_ADMIN
drain_timeout: 0s
EOF
  log "$phase: weir (1 worker) on CPU $PROXY_CPU :$PORT_WEIR${cap_line:+, max_client_connections $CAP}"
  "${PROXY_PIN[@]}" "$BUILD/weir" --config "$dir/weir.yaml" >"$dir/weir.log" 2>&1 &
  weir_pid=$!
  PIDS+=("$weir_pid")
  wait_port "$weir_pid" "$PORT_WEIR" weir "$dir/weir.log"
  url="http://127.0.0.1:$PORT_WEIR/"
  "${CLIENT_PIN[@]}" wrk -t1 -c"$WRK_CONNS" -d1s -s "$TMP/pace.lua" "$url" >/dev/null 2>&1 || true
  sleep 1
  # The normal traffic alone first.
  cpu_quiet=$(cpu_ticks "$weir_pid")
  "${CLIENT_PIN[@]}" wrk -t1 -c"$WRK_CONNS" -d"${QUIET_SECONDS}s" --timeout 2s --latency \
    -s "$TMP/pace.lua" "$url" >"$dir/wrk-quiet.txt" 2>&1 || die "wrk failed: $(tail -n 5 "$dir/wrk-quiet.txt")"
  cpu_before=$(cpu_ticks "$weir_pid")
  read -r q_rps q_p99 q_max q_errs q_n <<<"$(parse_wrk <"$dir/wrk-quiet.txt")"
  q_cpu_us=$(awk -v d=$((cpu_before - cpu_quiet)) -v t="$CLK_TCK" -v n="$q_n" \
    'BEGIN { printf "%.1f", (n > 0 ? d / t * 1e6 / n : 0) }')
  log "$phase: without flood: wrk $q_rps req/s p99 $q_p99 us errors $q_errs; weir CPU $q_cpu_us us/request"
  rss_before=$(rss_kib "$weir_pid")
  overflows_before=$(listen_overflows)

  # Normal traffic on keep-alive connections opened before the flood, for the whole phase.
  wrk_secs=$((FLOOD_SECONDS + 2))
  "${CLIENT_PIN[@]}" wrk -t1 -c"$WRK_CONNS" -d"${wrk_secs}s" --timeout 2s --latency \
    -s "$TMP/pace.lua" "$url" >"$dir/wrk.txt" 2>&1 &
  wrk_pid=$!
  PIDS+=("$wrk_pid")
  sleep 1
  "${CLIENT_PIN[@]}" "$BUILD/bench/idle_clients" --flood "$FLOOD_SECONDS" 127.0.0.1 "$PORT_WEIR" \
    "$IDLE_CONNS" >"$dir/flood.txt" 2>"$dir/flood.err" &
  flood_pid=$!
  PIDS+=("$flood_pid")
  flood_start=$(date +%s.%N)

  # A new connection per second, each with a 30 s deadline: "seconds-since-flood-start code
  # connect-time total-time" per line (code 000 = no answer in time).
  (
    for ((k = 0; k < FLOOD_SECONDS; k++)); do
      (
        t=$(awk -v a="$(date +%s.%N)" -v b="$flood_start" 'BEGIN { printf "%.1f", a - b }')
        r=$("${CLIENT_PIN[@]}" curl -s -o /dev/null --max-time 30 \
          -w '%{http_code} %{time_connect} %{time_total}' "$url" 2>/dev/null) || true
        echo "$t ${r:-000 0 0}"
      ) &
      sleep 1
    done
    wait
  ) >"$dir/curl.txt" &
  curl_pid=$!
  PIDS+=("$curl_pid")

  # Samples every 0.5 s while the flood runs: "t rss_kib gauge accept_queue".
  rss_peak=$rss_before gauge_peak=0 queue_peak=0
  while kill -0 "$flood_pid" 2>/dev/null; do
    kill -0 "$weir_pid" 2>/dev/null || die "weir exited during the flood (log: $dir/weir.log)"
    rss=$(rss_kib "$weir_pid")
    g=$(gauge)
    q=$(ss -Hltn "sport = :$PORT_WEIR" | awk '{print $2; exit}')
    echo "$(awk -v a="$(date +%s.%N)" -v b="$flood_start" 'BEGIN { printf "%.1f", a - b }') $rss ${g:-?} ${q:-?}" >>"$dir/samples.txt"
    ((rss > rss_peak)) && rss_peak=$rss
    [[ -n $g && $g -gt $gauge_peak ]] && gauge_peak=$g
    [[ -n $q && $q -gt $queue_peak ]] && queue_peak=$q
    sleep 0.5
  done
  wait "$flood_pid" || die "idle_clients failed: $(tail -n 3 "$dir/flood.err")"
  stop_pid "$flood_pid"
  wait "$wrk_pid" || die "wrk failed: $(tail -n 5 "$dir/wrk.txt")"
  stop_pid "$wrk_pid"
  # The last curls have at most 30 s; the loop ended with the flood.
  for _ in $(seq 160); do
    kill -0 "$curl_pid" 2>/dev/null || break
    sleep 0.2
  done
  stop_pid "$curl_pid"
  cpu_after=$(cpu_ticks "$weir_pid")
  overflows_after=$(listen_overflows)
  # weir notices the flood's closes; then RSS after (glibc may keep freed memory).
  for _ in $(seq 50); do
    g=$(gauge)
    [[ -n $g ]] && ((g == 0)) && break
    sleep 0.2
  done
  sleep 2
  kill -0 "$weir_pid" 2>/dev/null || die "weir exited after the flood (log: $dir/weir.log)"
  rss_after=$(rss_kib "$weir_pid")
  status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url" || true)
  stop_pid "$weir_pid"

  read -r rps p99 max errs n <<<"$(parse_wrk <"$dir/wrk.txt")"
  flood=$(grep '^flood:' "$dir/flood.txt" || echo "flood: missing")
  curl_stats=$(awk '{ n++; if ($2 == 200) { ok++; t[ok] = $4 } else bad++ }
    END {
      for (i = 2; i <= ok; i++) { v = t[i]; j = i - 1; while (j > 0 && t[j] > v) { t[j + 1] = t[j]; j-- } t[j + 1] = v }
      printf "%d %d %d %.2f %.2f\n", n, ok, bad, ok ? t[int((ok + 1) / 2)] : 0, ok ? t[ok] : 0
    }' "$dir/curl.txt")
  cpu_s=$(awk -v d=$((cpu_after - cpu_before)) -v t="$CLK_TCK" 'BEGIN { printf "%.2f", d / t }')
  echo "$phase|$rss_before|$rss_peak|$rss_after|$gauge_peak|$queue_peak|$((overflows_after - overflows_before))|$rps|$p99|$max|$errs|$n|$curl_stats|$cpu_s|$status|$flood|$q_rps $q_p99 $q_max $q_errs $q_n $q_cpu_us" >>"$TMP/results"
  log "$phase: $flood"
  log "$phase: wrk $rps req/s p99 $p99 us errors $errs; new connections (n ok failed p50 max s): $curl_stats; RSS $rss_before/$rss_peak/$rss_after KiB; gauge peak $gauge_peak; accept queue peak $queue_peak"
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

{
  echo "weir at its connection cap, $started, $(uname -r), $(nproc) CPUs; weir (1 worker) on CPU $PROXY_CPU, clients + upstream on CPU $CLIENT_CPU"
  echo "flood: $IDLE_CONNS connections attempted at once, each one GET then idle, held ${FLOOD_SECONDS}s; weir idle timeout ${IDLE_TIMEOUT}s, client_header_timeout ${HEADER_TIMEOUT}s"
  echo "normal: wrk -t1 -c$WRK_CONNS (keep-alive, opened before the flood, ${PACE_MS} ms pause per request) + 1 curl/s on a new connection (30 s deadline)"
  echo "listen backlog: weir 4096, net.core.somaxconn $(cat /proc/sys/net/core/somaxconn); load average $load_start at start, $load_end at end"
  echo
  awk -F'|' -v cap="$CAP" '
    function kv(s, key,   m) { return match(s, key "=[^ ]+") ? substr(s, RSTART + length(key) + 1, RLENGTH - length(key) - 1) : "?" }
    {
      split($13, c, " ")
      split($17, q, " ")
      printf "%s (%s)\n", $1, $1 == "cap" ? "max_client_connections " cap : "max_client_connections not set"
      printf "  flood: %s attempted, %s answered (statuses %s), closed by weir after the answer %s, before %s; connect errors %s\n",
        kv($16, "attempted"), kv($16, "answered"), kv($16, "statuses"), kv($16, "closed_after_answer"),
        kv($16, "closed_before_answer"), kv($16, "connect_errors")
      printf "  flood at its end: %s still connecting (SYN dropped, retrying), %s sent and unanswered (in the backlog), %s idle\n",
        kv($16, "at_end_connecting"), kv($16, "at_end_waiting"), kv($16, "at_end_idle")
      printf "  answered flood requests waited: p50 %ss, p99 %ss, max %ss (connect start -> response)\n",
        kv($16, "wait_p50"), kv($16, "wait_p99"), kv($16, "wait_max")
      printf "  weir_client_connections peak %s; accept queue peak %s; ListenOverflows +%s (machine-wide)\n", $5, $6, $7
      printf "  normal keep-alive (wrk) without the flood: %s req/s, p99 %.2f ms, max %.2f ms, %s errors of %s requests; weir CPU %s us/request\n",
        q[1], q[2] / 1000, q[3] / 1000, q[4], q[5], q[6]
      printf "  normal keep-alive (wrk) during the flood:  %s req/s, p99 %.2f ms, max %.2f ms, %s errors of %s requests\n", $8, $9 / 1000, $10 / 1000, $11, $12
      printf "  normal new connections (curl, 1/s): %s sent, %s answered 200, %s failed or timed out; time p50 %ss, max %ss\n",
        c[1], c[2], c[3], c[4], c[5]
      printf "  RSS before %s KiB, peak %s KiB (+%.1f KiB per open connection at the gauge peak), after %s KiB;\n",
        $2, $3, ($5 > 0 ? ($3 - $2) / $5 : 0), $4
      printf "  weir CPU during the flood %ss; after the flood GET / -> %s\n\n", $14, $15
      if ($1 == "cap") {
        ok = ($15 == "200" && $11 == 0 && $5 <= cap)
        verdict = sprintf("cap: %s (weir up and answering: %s, wrk errors: %s, gauge peak %s <= %s)",
          ok ? "PASS" : "FAIL", $15 == "200" ? "yes" : "no", $11, $5, cap)
      }
    }
    END { if (verdict != "") print verdict }' "$TMP/results"
} | tee "$TMP/table.txt"
if [[ -n ${OUT:-} ]]; then
  mkdir -p "$(dirname "$OUT")"
  cp "$TMP/table.txt" "$OUT"
fi
