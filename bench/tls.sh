#!/usr/bin/env bash
# TLS side by side (issue 12): weir, HAProxy and nginx terminate TLS with the same certificate
# and relay plain HTTP to the same two upstreams as bench/run.sh, in one run, once with an ECDSA
# P-256 certificate and once with an RSA 2048 one. Every section alternates its targets round by
# round (the order rotates each round) and reports the median; an acceptance block at the end
# checks issue 12's figures, PASS/FAIL with the numbers.
#
# Sections (PARTS, comma-separated; keepalive,handshake,syscalls by default):
#   keepalive  requests/s over TLS on keep-alive connections (wrk --latency), CPU us per request
#              of the proxy (utime+stime from /proc/PID/stat; nginx: master + worker)
#   handshake  a full handshake per request: wrk -H 'Connection: close' with a fresh session on
#              every connection. wrk on its own resumes: it keeps the SSL object's session across
#              its reconnects (SSL_shutdown + SSL_clear), so every handshake after a connection's
#              first would be a resumption. A small LD_PRELOAD library built here drops that
#              session before each SSL_connect and counts full and resumed handshakes; the run
#              stops if any handshake was resumed.
#   resumed    (not by default) the same Connection: close load as wrk does it by itself: every
#              handshake after a connection's first resumes the previous session (the share
#              resumed is in the report: a proxy that does not resume shows 0%)
#   syscalls   strace -c -f attached to the proxy (nginx: its worker) over SYSCALL_DURATION of
#              each load above (keep-alive, handshake); total calls / requests completed
#
# Certificates are made here with the openssl CLI: a test CA (ECDSA P-256) and two server
# certificates for bench.test (SAN DNS:bench.test), one ECDSA P-256 and one RSA 2048, signed by
# it. Every target serves the leaf alone; TLS 1.2 at least, OpenSSL's default TLS 1.3 suites and
# groups, session resumption (tickets and a cache) on. wrk connects to https://bench.test:PORT/
# (the library resolves bench.test to 127.0.0.1), so the SNI is bench.test. Before measuring, an
# `openssl s_client` request to every target checks the answer (200), the certificate (verified
# against the test CA, the same fingerprint everywhere) and prints what was negotiated: protocol,
# suite, key exchange group, signature and session tickets per handshake.
#
# Placement: the proxies (1 worker / 1 thread each) are pinned to PROXY_CPU (default 0), wrk and
# both upstreams to CLIENT_CPU (1).
#
# Environment (defaults):
#   PARTS=keepalive,handshake,syscalls   (add resumed for wrk's own resuming reconnects)
#   TARGETS="weir haproxy nginx"   which proxies to run (the acceptance figures need weir and
#                       haproxy; without weir they print n/a)
#   KEYS="ecdsa rsa"    certificate key types, each a pass of its own with fresh proxies
#   ROUNDS=3            rounds per section; every figure is the median over them
#   DURATION=10s        wrk duration of a keep-alive measurement
#   HANDSHAKE_DURATION=10s  wrk duration of a handshake (and resumed) measurement
#   WARMUP=1s           wrk warm-up before every measurement (not counted)
#   CONNS=64            wrk connections
#   SYSCALL_DURATION=3s wrk duration under strace, per load
#   BASE_PORT           ports BASE_PORT+1, +2 (upstreams) and +11..13 on 127.0.0.1 (default: first
#                       free block from 24000)
#   PROXY_CPU=0 CLIENT_CPU=1
#   NICE=N              run everything it starts with nice -n N
#   BUILD=<repo>/build  where weir and weir-demo-upstream are
#   COMMIT=TEXT         the commit the report names (default: this checkout's HEAD)
#   OUT=FILE            also write the final report to FILE
#   KEEP_TMP=1          keep the temp dir (certificates, configs, logs, raw wrk and strace output)
#
# Needs: wrk, nginx, haproxy, strace, taskset, ss, openssl, a C compiler and the OpenSSL headers
# (apt-get install wrk nginx-light haproxy strace util-linux iproute2 openssl gcc libssl-dev), and
# build/weir-demo-upstream (plus build/weir when weir is a target). Builds nothing of weir's.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=bench/tls.sh
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

BUILD=${BUILD:-$ROOT/build}
PARTS=${PARTS:-keepalive,handshake,syscalls}
read -r -a PROXIES <<<"${TARGETS:-weir haproxy nginx}"
read -r -a KEYS <<<"${KEYS:-ecdsa rsa}"
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
HANDSHAKE_DURATION=${HANDSHAKE_DURATION:-10s}
WARMUP=${WARMUP:-1s}
CONNS=${CONNS:-64}
SYSCALL_DURATION=${SYSCALL_DURATION:-3s}
BASE_PORT=${BASE_PORT:-}
PROXY_CPU=${PROXY_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
TLS_NAME=bench.test

has_part() { [[ ,$PARTS, == *",$1,"* ]]; }
has_target() { [[ " ${PROXIES[*]} " == *" $1 "* ]]; }
for p in ${PARTS//,/ }; do
  [[ $p =~ ^(keepalive|handshake|resumed|syscalls)$ ]] || die "unknown part '$p' in PARTS"
done
((${#PROXIES[@]})) || die "TARGETS is empty"
for t in "${PROXIES[@]}"; do
  [[ $t =~ ^(weir|haproxy|nginx)$ ]] || die "unknown target '$t' in TARGETS (weir, haproxy, nginx)"
done
((${#KEYS[@]})) || die "KEYS is empty"
for k in "${KEYS[@]}"; do
  [[ $k =~ ^(ecdsa|rsa)$ ]] || die "unknown key type '$k' in KEYS (ecdsa, rsa)"
done
((ROUNDS >= 1)) || die "ROUNDS must be at least 1"
declare -A KEY_LABEL=([ecdsa]="ECDSA P-256" [rsa]="RSA 2048")
# The loads (sections that run wrk) and how long each runs.
declare -A LOAD_DURATION=([keepalive]=$DURATION [handshake]=$HANDSHAKE_DURATION [resumed]=$HANDSHAKE_DURATION)
LOADS=()
for l in keepalive handshake resumed; do has_part "$l" && LOADS+=("$l"); done

# --- prerequisites ---------------------------------------------------------------------------
missing=()
for tool in wrk nginx haproxy taskset ss strace openssl cc; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
((${#missing[@]} == 0)) ||
  die "missing: ${missing[*]}; install with: apt-get install wrk nginx-light haproxy strace util-linux iproute2 openssl gcc libssl-dev"
bins=("$BUILD/weir-demo-upstream")
has_target weir && bins+=("$BUILD/weir")
for bin in "${bins[@]}"; do
  [[ -x $bin ]] || die "$bin not found; build first: ninja -C ${BUILD#"$ROOT"/} weir weir-demo-upstream"
done
ncpu=$(nproc)
if ((ncpu < 2)); then
  log "warning: $ncpu CPU; proxy and client share it, numbers are not comparable"
  PROXY_CPU=0 CLIENT_CPU=0
fi
# Pinning (and, with NICE set, priority) of every process the benchmark starts.
PROXY_PRIO=()
[[ -n ${NICE:-} ]] && PROXY_PRIO=(nice -n "$NICE")
CLIENT_PIN=("${PROXY_PRIO[@]}" taskset -c "$CLIENT_CPU")
NGINX_BUILD=$(nginx -V 2>&1)
NOFILE=$(ulimit -n)
MAX_CONNS=2000

set_ports() {
  PORT_V1=$(($1 + 1)) PORT_V2=$(($1 + 2))
  declare -gA PORT_OF=([weir]=$(($1 + 11)) [haproxy]=$(($1 + 12)) [nginx]=$(($1 + 13)))
}
ports_free() {
  local port
  for port in "$PORT_V1" "$PORT_V2" "${PORT_OF[@]}"; do port_free "$port" || return 1; done
}
choose_port_block 24000 13

TMP=$(mktemp -d /tmp/weir-bench-tls.XXXXXX)
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  bench_cleanup
  if [[ ${KEEP_TMP:-0} == 1 || $rc != 0 ]]; then
    echo "$BENCH_NAME: certificates, configs and logs kept in $TMP" >&2
  else
    rm -rf "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- certificates ------------------------------------------------------------------------------
# make_certs DIR: ca.crt/ca.key, and for each key type T: T.crt (leaf for bench.test), T.key and
# T.pem (both, for HAProxy). Valid for two days: long enough for any run.
make_certs() {
  local dir=$1 t
  mkdir -p "$dir"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=weir bench test CA" -keyout "$dir/ca.key" -out "$dir/ca.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    >"$dir/openssl.log" 2>&1 || die "openssl could not make the test CA: $(cat "$dir/openssl.log")"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/ecdsa.key" 2>>"$dir/openssl.log"
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/rsa.key" 2>>"$dir/openssl.log"
  for t in ecdsa rsa; do
    local usage=digitalSignature
    [[ $t == rsa ]] && usage=digitalSignature,keyEncipherment
    printf '%s\n' "subjectAltName=DNS:$TLS_NAME" "basicConstraints=critical,CA:FALSE" \
      "keyUsage=critical,$usage" "extendedKeyUsage=serverAuth" >"$dir/$t.ext"
    openssl req -new -key "$dir/$t.key" -subj "/CN=$TLS_NAME" -out "$dir/$t.csr" 2>>"$dir/openssl.log"
    openssl x509 -req -in "$dir/$t.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -set_serial "0x$(openssl rand -hex 8)" \
      -days 2 -extfile "$dir/$t.ext" -out "$dir/$t.crt" >>"$dir/openssl.log" 2>&1 ||
      die "openssl could not sign the $t certificate: $(tail -n 5 "$dir/openssl.log")"
    cat "$dir/$t.crt" "$dir/$t.key" >"$dir/$t.pem"
  done
}

# --- wrk's TLS helper library ------------------------------------------------------------------
# Interposes two calls of wrk's:
#   getaddrinfo  WRK_TLS_NAME resolves to 127.0.0.1, so the URL (and with it the SNI and the Host
#                header) can name the certificate's host without an /etc/hosts entry.
#   SSL_connect  with WRK_FRESH_SESSIONS=1, drops the session the SSL object kept from its
#                previous connection before a new handshake starts, so the handshake is a full
#                one; counts completed handshakes, full and resumed, and prints them at exit.
build_wrk_helper() {
  cat >"$TMP/wrk_tls.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netdb.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *tls_name;
static int fresh_sessions;
static unsigned long full_handshakes, resumed_handshakes;

__attribute__((constructor)) static void read_settings(void) {
  tls_name = getenv("WRK_TLS_NAME");
  const char *fresh = getenv("WRK_FRESH_SESSIONS");
  fresh_sessions = fresh != NULL && strcmp(fresh, "1") == 0;
}

// wrk exits through exit(), so this runs after its report.
__attribute__((destructor)) static void report(void) {
  fprintf(stderr, "wrk_tls: handshakes full %lu resumed %lu\n", full_handshakes, resumed_handshakes);
}

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res) {
  static int (*next)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
  if (next == NULL) *(void **)&next = dlsym(RTLD_NEXT, "getaddrinfo");
  if (tls_name != NULL && node != NULL && strcmp(node, tls_name) == 0) node = "127.0.0.1";
  return next(node, service, hints, res);
}

int SSL_connect(SSL *ssl) {
  static int (*next)(SSL *);
  if (next == NULL) *(void **)&next = dlsym(RTLD_NEXT, "SSL_connect");
  // wrk calls SSL_connect again after every WANT_READ/WANT_WRITE: only the first call of a
  // handshake, in the "before" state, may drop the session.
  if (fresh_sessions && SSL_in_before(ssl)) SSL_set_session(ssl, NULL);
  int done = next(ssl);
  if (done == 1) {
    if (SSL_session_reused(ssl)) resumed_handshakes++;
    else full_handshakes++;
  }
  return done;
}
EOF
  cc -shared -fPIC -O2 -o "$TMP/wrk_tls.so" "$TMP/wrk_tls.c" -ldl -lssl >"$TMP/wrk_tls.log" 2>&1 ||
    die "could not build the wrk helper (needs gcc and libssl-dev): $(cat "$TMP/wrk_tls.log")"
}

# wrk_tls FRESH WRK_ARGS...: wrk on CLIENT_CPU through the helper library (FRESH: 1 = a full
# handshake on every connection).
wrk_tls() {
  local fresh=$1
  shift
  "${CLIENT_PIN[@]}" env LD_PRELOAD="$TMP/wrk_tls.so" WRK_TLS_NAME="$TLS_NAME" WRK_FRESH_SESSIONS="$fresh" \
    wrk -t1 -c"$CONNS" "$@"
}

# --- probing a target --------------------------------------------------------------------------
# tls_probe TARGET: one GET / with openssl s_client (SNI bench.test, the chain verified against
# the test CA, the host name checked). Sets P_STATUS (the status line), P_VERIFY, P_FPR (SHA-256
# of the certificate served), P_PROTO, P_SUITE, P_GROUP, P_SIG and P_TICKETS (NewSessionTicket
# messages on that one connection).
tls_probe() {
  local t=$1 out=$TMP/probe-$1-$KEY.txt
  printf 'GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$TLS_NAME" |
    timeout 10 openssl s_client -connect "127.0.0.1:${TARGET_PORT[$t]}" -servername "$TLS_NAME" \
      -CAfile "$CERTS/ca.crt" -verify_hostname "$TLS_NAME" -verify_return_error -msg -ign_eof \
      >"$out" 2>&1 || true
  P_STATUS=$(grep -m1 -a '^HTTP/1\.1 ' "$out" | tr -d '\r' || true)
  P_VERIFY=$(grep -m1 -a 'Verify return code:' "$out" | sed 's/.*Verify return code: //' || true)
  P_FPR=$(sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' "$out" |
    openssl x509 -noout -fingerprint -sha256 2>/dev/null | sed 's/.*=//' || true)
  P_PROTO=$(grep -m1 -a -o 'New, [A-Za-z0-9.]*' "$out" | sed 's/New, //' || true)
  P_SUITE=$(grep -m1 -a -o 'Cipher is [A-Z0-9_-]*' "$out" | sed 's/Cipher is //' || true)
  P_GROUP=$(grep -m1 -a 'Server Temp Key:' "$out" | sed 's/.*Server Temp Key: //; s/,.*//' || true)
  P_SIG=$(grep -m1 -a 'Peer signature type:' "$out" | sed 's/.*: //' || true)
  P_TICKETS=$(grep -c -a '<<< .*NewSessionTicket' "$out" || true)
}

# --- measuring ---------------------------------------------------------------------------------
# The list "$@" rotated left by $1 places: round r starts with a different target.
rotated() {
  local r=$1
  shift
  local n=$# i
  local items=("$@")
  for ((i = 0; i < n; i++)); do echo "${items[$(((i + r) % n))]}"; done
}

# load_args LOAD: sets FRESH (1: a full handshake on every connection) and LOAD_ARGS (what wrk
# adds to its command line) for a load.
load_args() {
  FRESH=0 LOAD_ARGS=()
  [[ $1 == handshake ]] && FRESH=1
  [[ $1 == keepalive ]] || LOAD_ARGS=(-H 'Connection: close')
}

# measure TARGET LOAD: a warm-up, then one wrk run of LOAD, with the target's CPU time read around
# it. Sets W_RPS W_P50 W_P99 W_ERRS W_REQS, W_USR W_SYS (CPU us per request), W_FULL W_RESUMED
# (handshakes wrk completed) and W_OUT.
measure() {
  local t=$1 load=$2 before after
  local url="https://$TLS_NAME:${TARGET_PORT[$t]}/"
  load_args "$load"
  wrk_tls "$FRESH" -d"$WARMUP" "${LOAD_ARGS[@]}" "$url" >/dev/null 2>&1 || true
  # shellcheck disable=SC2086 # CPU_PIDS holds a list of pids
  before=$(cpu_ticks ${CPU_PIDS[$t]})
  W_OUT=$(wrk_tls "$FRESH" -d"${LOAD_DURATION[$load]}" --latency "${LOAD_ARGS[@]}" "$url" 2>&1) ||
    die "wrk against $t ($KEY, $load) failed: $W_OUT"
  # shellcheck disable=SC2086
  after=$(cpu_ticks ${CPU_PIDS[$t]})
  read -r W_RPS W_P50 W_P99 W_ERRS W_REQS _ <<<"$(parse_wrk <<<"$W_OUT")"
  read -r W_FULL W_RESUMED <<<"$(awk '/^wrk_tls: handshakes/ { print $4, $6 }' <<<"$W_OUT")"
  [[ -n $W_FULL ]] || die "the wrk helper did not report its handshakes: $W_OUT"
  ((W_REQS > 0)) || die "no requests completed against $t ($KEY, $load): $W_OUT"
  if [[ $load == handshake ]] && ((W_RESUMED > 0)); then
    die "$W_RESUMED of $((W_FULL + W_RESUMED)) handshakes against $t were resumed in the full-handshake measurement"
  fi
  read -r W_USR W_SYS <<<"$(awk -v b="$before" -v a="$after" -v n="$W_REQS" -v hz="$CLK_TCK" 'BEGIN {
    split(b, x, " "); split(a, y, " ")
    printf "%.2f %.2f\n", (y[1] - x[1]) * 1e6 / hz / n, (y[2] - x[2]) * 1e6 / hz / n }')"
}

# trace_syscalls TARGET LOAD: strace -c -f attached to the target over a wrk run of
# SYSCALL_DURATION; sets S_PER (calls per request) and appends "key load target syscall calls
# errors requests" lines to syscalls.txt.
trace_syscalls() {
  local t=$1 load=$2 total out=$TMP/strace-$KEY-$2-$1.txt
  local url="https://$TLS_NAME:${TARGET_PORT[$1]}/"
  load_args "$load"
  wrk_under_strace "$out" "${TRACE_PIDS[$t]}" "$t" wrk_tls "$FRESH" -d"$SYSCALL_DURATION" \
    "${LOAD_ARGS[@]}" "$url"
  forget_pid "$W_STRACE_PID" # ended; tls.sh runs many
  parse_strace "$out" | awk -v k="$KEY" -v l="$load" -v t="$t" -v n="$W_REQS" '{ print k, l, t, $3, $1, $2, n }' \
    >>"$TMP/syscalls.txt"
  total=$(parse_strace "$out" | awk '$3 == "total" { print $1 }')
  S_PER=$(ratio "$total" "$W_REQS")
}

# Top syscalls of target $3 under load $2 with key $1 per request: "2.00 write, 2.00 read, ...".
top_syscalls() {
  awk -v k="$1" -v l="$2" -v t="$3" '$1 == k && $2 == l && $3 == t && $4 != "total" { calls[$4] += $5; errs[$4] += $6 }
    $1 == k && $2 == l && $3 == t && $4 == "total" { reqs += $7 }
    END { if (reqs > 0) for (s in calls) printf "%.3f %s %.3f\n", calls[s] / reqs, s, errs[s] / reqs }' \
    "$TMP/syscalls.txt" 2>/dev/null | sort -rg | awk '$1 >= 0.005' | head -n 6 |
    awk '{ printf "%s%.2f %s", (NR > 1 ? ", " : ""), $1, $2; if ($3 >= 0.005) printf " (%.2f failed)", $3 }'
}

# A stopped process's pid leaves the cleanup list, so that a later process given the same pid is
# never signalled.
forget_pid() {
  local kept=() pid
  for pid in "${BENCH_PIDS[@]}"; do [[ $pid == "$1" ]] || kept+=("$pid"); done
  BENCH_PIDS=("${kept[@]}")
}

# Results: R[key:load:target:metric] holds one value per round, space-separated.
declare -A R=() ERRS=() PROBE=()
add() { R[$1]+=" $2"; }
med() { median <<<"${R[$1]:-}"; }

# --- the run -----------------------------------------------------------------------------------
CERTS=$TMP/certs
log "making the test CA and the $TLS_NAME certificates (ECDSA P-256, RSA 2048) in $CERTS"
make_certs "$CERTS"
build_wrk_helper

log "starting upstreams on CPU $CLIENT_CPU: app-v1 :$PORT_V1, app-v2 :$PORT_V2"
for up in app-v1 app-v2; do
  port=$PORT_V1
  [[ $up == app-v2 ]] && port=$PORT_V2
  "${CLIENT_PIN[@]}" "$BUILD/weir-demo-upstream" --listen "127.0.0.1:$port" --name "$up" \
    >"$TMP/$up.log" 2>&1 &
  BENCH_PIDS+=($!)
  wait_port $! "$port" "$up" "$TMP/$up.log"
done

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
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
log "load average at start: $load_start; parts: $PARTS; targets: ${PROXIES[*]}; keys: ${KEYS[*]}"

for KEY in "${KEYS[@]}"; do
  # Read by lib.sh's config writers: the listeners terminate TLS with this certificate.
  TLS_CERT=$CERTS/$KEY.crt TLS_KEY=$CERTS/$KEY.key TLS_PEM=$CERTS/$KEY.pem
  want_fpr=$(openssl x509 -in "$TLS_CERT" -noout -fingerprint -sha256 | sed 's/.*=//')
  for t in "${PROXIES[@]}"; do
    log "starting $t (1 worker) on CPU $PROXY_CPU :${PORT_OF[$t]} with the ${KEY_LABEL[$KEY]} certificate"
    start_proxy "$t" "$t" 1 "${PORT_OF[$t]}" "$PROXY_CPU"
  done
  # Every target answers 200 over TLS with the same certificate before anything is measured.
  for t in "${PROXIES[@]}"; do
    tls_probe "$t"
    [[ $P_STATUS == "HTTP/1.1 200 "* ]] ||
      die "$t answered '${P_STATUS:-nothing}' over TLS instead of 200 (see $TMP/probe-$t-$KEY.txt)"
    [[ $P_VERIFY == "0 (ok)" ]] || die "$t's certificate did not verify against the test CA: $P_VERIFY"
    [[ $P_FPR == "$want_fpr" ]] || die "$t served another certificate ($P_FPR, want $want_fpr)"
    PROBE[$KEY:$t]="$P_PROTO $P_SUITE, $P_GROUP, signature $P_SIG, $P_TICKETS session tickets per handshake"
    log "$t: ${PROBE[$KEY:$t]}"
  done

  for load in "${LOADS[@]}"; do
    for ((r = 0; r < ROUNDS; r++)); do
      for t in $(rotated "$r" "${PROXIES[@]}"); do
        measure "$t" "$load"
        k=$KEY:$load:$t
        add "$k:rps" "$W_RPS"
        add "$k:p50" "$W_P50"
        add "$k:p99" "$W_P99"
        add "$k:usr" "$W_USR"
        add "$k:sys" "$W_SYS"
        cpu=$(awk -v u="$W_USR" -v s="$W_SYS" 'BEGIN { printf "%.2f\n", u + s }')
        add "$k:cpu" "$cpu"
        add "$k:core" "$(awk -v c="$cpu" -v r="$W_RPS" 'BEGIN { printf "%.1f\n", c * r / 1e4 }')"
        add "$k:resumed" "$(awk -v f="$W_FULL" -v m="$W_RESUMED" 'BEGIN { if (f + m > 0) printf "%.1f\n", 100 * m / (f + m); else print "nan" }')"
        ERRS[$k]=$((${ERRS[$k]:-0} + W_ERRS))
        echo "$W_OUT" >>"$TMP/wrk-$KEY-$load-$t.txt"
        note=""
        ((W_ERRS == 0)) || note="  ($W_ERRS errors)"
        log "$KEY $load round $((r + 1))/$ROUNDS $(printf '%-8s' "$t") $(printf '%7s' "$W_RPS") req/s" \
          " p99 $(fmt_us "$W_P99")  cpu $cpu us/req (usr $W_USR, sys $W_SYS)  handshakes $W_FULL full, $W_RESUMED resumed$note"
      done
    done
  done

  # strace stops the proxy at every syscall: the rates under it mean nothing, calls per request
  # does. One run per target and load.
  if has_part syscalls; then
    for load in keepalive handshake; do
      for t in "${PROXIES[@]}"; do
        trace_syscalls "$t" "$load"
        add "$KEY:$load:$t:syscalls" "$S_PER"
        log "$KEY $load syscalls $(printf '%-8s' "$t") $S_PER per request ($W_REQS requests under strace)"
      done
    done
  fi

  for t in "${PROXIES[@]}"; do
    stop_proxy "$t"
    forget_pid "${CPU_PIDS[$t]%% *}"
  done
done

# --- report ------------------------------------------------------------------------------------
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
pass() { awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN {
  if (a == "nan" || b == "nan" || a == "" || b == "" || a == "n/a" || b == "n/a") { print "n/a "; exit }
  ok = (op == "<=") ? (a + 0 <= b + 0) : (a + 0 >= b + 0); print ok ? "PASS" : "FAIL" }'; }
fmt() { awk -v v="$1" -v f="$2" 'BEGIN { if (v == "nan" || v == "") print "-"; else printf f "\n", v }'; }
errs_of() { if ((${ERRS[$1]:-0})); then echo "  (${ERRS[$1]} errors)"; fi; }
# vs KEY LOAD TARGET OTHER: TARGET's req/s / OTHER's, "-" when OTHER did not run.
vs() { if has_target "$4"; then ratio "$(med "$1:$2:$3:rps")" "$(med "$1:$2:$4:rps")" '%.2fx'; else echo -; fi; }
declare -A LOAD_TITLE=(
  [keepalive]="keep-alive requests over TLS (wrk -t1 -c$CONNS -d$DURATION)"
  [handshake]="a full handshake per request (wrk -t1 -c$CONNS -d$HANDSHAKE_DURATION -H 'Connection: close', a fresh session per connection)"
  [resumed]="a resumed handshake per request (wrk -t1 -c$CONNS -d$HANDSHAKE_DURATION -H 'Connection: close', wrk resuming its last session)")
{
  echo "weir TLS side-by-side benchmark, $started, $(uname -r), $ncpu CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'))"
  if has_target weir; then
    echo "weir: $("$BUILD/weir" --version 2>&1 | awk 'NR == 1'), $BUILD/weir built $(date -u -r "$BUILD/weir" '+%Y-%m-%d %H:%M UTC'), tree at $commit$dirty"
  else
    echo "weir: not measured (TARGETS=${PROXIES[*]})"
  fi
  echo "$(haproxy -v 2>&1 | awk 'NR == 1 {print "HAProxy " $3}'), $(nginx -v 2>&1 | sed 's/^nginx version: //'), $(wrk -v 2>&1 | awk 'NR == 1 {print "wrk " $2}'), $(openssl version | awk '{print $1, $2}'), strace $(strace -V | awk 'NR == 1 {print $4}')"
  echo "1-worker proxies on CPU $PROXY_CPU; wrk + 2 upstreams (90/10 split, plain HTTP, upstream keep-alive) on CPU $CLIENT_CPU${NICE:+; nice $NICE}"
  echo "parts: $PARTS; median of $ROUNDS alternating rounds each; load average $load_start at start, $load_end at end"
  echo "CPU = the proxy's utime+stime / requests (us per request = ms per 1,000 requests; nginx: master + worker);"
  echo "core = CPU time / wall time (below ~95% the proxy was not what limited req/s: CPU per request is the robust figure)"
  for KEY in "${KEYS[@]}"; do
    echo
    echo "== ${KEY_LABEL[$KEY]} certificate for $TLS_NAME (signed by the test CA) =="
    for t in "${PROXIES[@]}"; do printf '  %-8s %s\n' "$t" "${PROBE[$KEY:$t]}"; done
    for load in "${LOADS[@]}"; do
      echo
      echo "${LOAD_TITLE[$load]}"
      sys_col=""
      [[ $load != resumed ]] && has_part syscalls && sys_col="syscalls/req"
      printf '%-8s %9s %10s %9s %10s %10s %12s %8s %8s %6s %9s %13s\n' target "req/s" "vs HAProxy" "vs nginx" p50 p99 \
        "CPU us/req" usr sys core resumed "$sys_col"
      for t in "${PROXIES[@]}"; do
        k=$KEY:$load:$t
        printf '%-8s %9s %10s %9s %10s %10s %12s %8s %8s %6s %9s %13s%s\n' "$t" "$(med "$k:rps")" \
          "$(vs "$KEY" "$load" "$t" haproxy)" "$(vs "$KEY" "$load" "$t" nginx)" \
          "$(fmt_us "$(med "$k:p50")")" "$(fmt_us "$(med "$k:p99")")" \
          "$(fmt "$(med "$k:cpu")" %.1f)" "$(fmt "$(med "$k:usr")" %.1f)" "$(fmt "$(med "$k:sys")" %.1f)" \
          "$(fmt "$(med "$k:core")" '%.0f%%')" "$(fmt "$(med "$k:resumed")" '%.0f%%')" \
          "$([[ -n $sys_col ]] && fmt "$(med "$k:syscalls")" %.2f)" "$(errs_of "$k")"
      done
      if [[ -n $sys_col ]]; then
        for t in "${PROXIES[@]}"; do
          echo "  syscalls $(printf '%-8s' "$t") $(top_syscalls "$KEY" "$load" "$t")"
        done
      fi
    done
  done

  # Issue 12's acceptance figures, each against the same run's HAProxy, with the CPU per request
  # beside them: when a proxy did not fill its core, req/s measured the client, not the proxy.
  echo
  echo "acceptance (issue 12; medians of $ROUNDS rounds)"
  if has_target weir && has_target haproxy; then
    for KEY in "${KEYS[@]}"; do
      for load in keepalive handshake; do
        has_part "$load" || continue
        if [[ $load == keepalive ]]; then
          want=1.0 what="keep-alive req/s over TLS"
        else
          want=0.9 what="full handshakes/s"
        fi
        w=$(med "$KEY:$load:weir:rps") h=$(med "$KEY:$load:haproxy:rps") x=$(ratio "$w" "$h")
        wc=$(med "$KEY:$load:weir:cpu") hc=$(med "$KEY:$load:haproxy:cpu")
        echo "  $(pass "$x" '>=' "$want")  ${KEY_LABEL[$KEY]}: $what >= ${want}x HAProxy: weir $w, HAProxy $h = ${x}x" \
          "(CPU per request: weir $wc us, HAProxy $hc us = $(ratio "$wc" "$hc" '%.2fx'))"
        wk=$(med "$KEY:$load:weir:core") hk=$(med "$KEY:$load:haproxy:core")
        if awk -v a="$wk" -v b="$hk" 'BEGIN { exit !(a + 0 < 80 || b + 0 < 80) }'; then
          echo "        note: the proxies used ${wk}% (weir) and ${hk}% (HAProxy) of their core: req/s was limited"
          echo "        by something else (wrk's own TLS work on the client core, or other load); compare CPU per request"
        fi
      done
    done
  else
    echo "  n/a   needs weir and haproxy among TARGETS (TARGETS=${PROXIES[*]})"
  fi
} | tee "$TMP/report.txt"
if [[ -n ${OUT:-} ]]; then
  mkdir -p "$(dirname "$OUT")"
  cp "$TMP/report.txt" "$OUT"
fi
