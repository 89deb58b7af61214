#!/usr/bin/env bash
# Differential conformance: the raw-byte cases of tests/conformance/cases sent through weir,
# HAProxy and nginx, each in front of the same fake upstream (weir-conformance plays both the
# client and the upstream). Writes a markdown table (per case: what each proxy answered, whether
# it closed the connection, what reached the upstream) and a summary of where weir is stricter
# or more lenient than the other two.
#
# The proxies run with minimal configs of the kind found in tutorials: nginx with HTTP/1.1 and
# keep-alive to the upstream, Host and X-Forwarded-For set the usual way; HAProxy in mode http
# with option forwardfor. Neither is tuned for strictness; the point is what a default does.
#
# Environment (defaults):
#   BUILD=<repo>/build   where weir and tests/conformance/weir-conformance are
#   OUT=<repo>/bench/conformance.md   the table
#   BASE_PORT            ports BASE_PORT+1..+4 on 127.0.0.1 (default: first free block from 24000)
#   TIMEOUT_MS=3000      runner's longest wait for one answer
#   FILTER=TEXT          only cases whose name contains TEXT
#   KEEP_TMP=1           keep the temp dir (configs, logs, per-proxy reports)
#   RUNNER=PATH          the weir-conformance binary (default: BUILD/tests/conformance/...)
#
# Needs: haproxy and nginx (apt-get install haproxy nginx-light) and a build with tests enabled
# (flock /tmp/weir-build.lock ninja -C build weir tests/conformance/weir-conformance).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
OUT=${OUT:-$ROOT/bench/conformance.md}
CASES=$ROOT/tests/conformance/cases
RUNNER=${RUNNER:-$BUILD/tests/conformance/weir-conformance}
TIMEOUT_MS=${TIMEOUT_MS:-3000}
FILTER=${FILTER:-}
BASE_PORT=${BASE_PORT:-}

die() {
  echo "bench/conformance.sh: $*" >&2
  exit 1
}
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

for tool in nginx haproxy ss; do
  command -v "$tool" >/dev/null || die "missing $tool; install with: apt-get install haproxy nginx-light iproute2"
done
[[ -x $BUILD/weir ]] || die "no $BUILD/weir; build it first"
[[ -x $RUNNER ]] || die "no $RUNNER; build it first (meson -Dtests=true)"

port_free() { [[ -z $(ss -Htln "sport = :$1" 2>/dev/null) ]]; }
block_free() {
  local p
  for p in $(($1 + 1)) $(($1 + 2)) $(($1 + 3)) $(($1 + 4)); do port_free "$p" || return 1; done
}
if [[ -z $BASE_PORT ]]; then
  BASE_PORT=24000
  until block_free "$BASE_PORT"; do BASE_PORT=$((BASE_PORT + 10)); done
fi
PORT_UPSTREAM=$((BASE_PORT + 1))
declare -A PORT=([weir]=$((BASE_PORT + 2)) [haproxy]=$((BASE_PORT + 3)) [nginx]=$((BASE_PORT + 4)))
PROXIES=(weir haproxy nginx)

TMP=$(mktemp -d /tmp/weir-conformance.XXXXXX)
PID=""
cleanup() {
  if [[ -n $PID ]] && kill -0 "$PID" 2>/dev/null; then
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
  if [[ -n ${KEEP_TMP:-} ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

# Polls until the proxy listens (deadline 10 s) or dies.
wait_port() {
  local pid=$1 port=$2 name=$3 logfile=$4 deadline=$((SECONDS + 10))
  until ! port_free "$port"; do
    kill -0 "$pid" 2>/dev/null || die "$name exited; log:
$(cat "$logfile")"
    ((SECONDS < deadline)) || die "$name does not listen on :$port after 10 s; log:
$(cat "$logfile")"
    sleep 0.05
  done
}

# --- configs ---------------------------------------------------------------------------------
cat >"$TMP/weir.yaml" <<EOF
workers: 1
listeners:
  - name: public
    address: 127.0.0.1:${PORT[weir]}
services:
  - namespace: conformance
    name: app
    endpoints: [127.0.0.1:$PORT_UPSTREAM]
routes:
  - name: conformance-route
    listener: public
    backends: [{ service: conformance/app }]
    timeouts: { connect: 2s, request: 5s, idle: 10s }
drain_timeout: 1s
EOF

cat >"$TMP/haproxy.cfg" <<EOF
global
  nbthread 1
defaults
  mode http
  option http-keep-alive
  option forwardfor
  timeout connect 2s
  timeout client 5s
  timeout server 5s
  timeout http-request 5s
  timeout http-keep-alive 10s
frontend conformance
  bind 127.0.0.1:${PORT[haproxy]}
  default_backend app
backend app
  server app 127.0.0.1:$PORT_UPSTREAM
EOF

mkdir -p "$TMP/nginx"
nginx_temp_paths="client_body_temp_path $TMP/nginx/body;
  proxy_temp_path $TMP/nginx/proxy;"
nginx_build=$(nginx -V 2>&1)
for m in fastcgi uwsgi scgi; do
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
daemon off;
master_process on;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log warn;
events {
  worker_connections 1024;
}
http {
  access_log off;
  $nginx_temp_paths
  upstream app {
    server 127.0.0.1:$PORT_UPSTREAM;
    keepalive 16;
  }
  server {
    listen 127.0.0.1:${PORT[nginx]};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
    }
  }
}
EOF

start_proxy() {
  case $1 in
  weir) "$BUILD/weir" --config "$TMP/weir.yaml" >"$TMP/weir.log" 2>&1 & ;;
  haproxy) haproxy -db -f "$TMP/haproxy.cfg" >"$TMP/haproxy.log" 2>&1 & ;;
  nginx) nginx -p "$TMP/nginx" -c "$TMP/nginx.conf" -e "$TMP/nginx-error.log" >"$TMP/nginx.log" 2>&1 & ;;
  esac
  PID=$!
  wait_port "$PID" "${PORT[$1]}" "$1" "$TMP/$1.log"
}

stop_proxy() {
  kill "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=""
}

version_of() {
  case $1 in
  weir)
    local commit
    commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
    echo "$("$BUILD/weir" --version 2>&1 | awk 'NR == 1') (tree at $commit)"
    ;;
  haproxy) haproxy -v 2>&1 | awk 'NR == 1 {print "HAProxy " $3}' ;;
  nginx) nginx -v 2>&1 | sed 's/^nginx version: //' ;;
  esac
}

# --- runs ------------------------------------------------------------------------------------
filter_args=()
[[ -n $FILTER ]] && filter_args=(--filter "$FILTER")
declare -A VERSION
for p in "${PROXIES[@]}"; do
  VERSION[$p]=$(version_of "$p")
  log "$p (${VERSION[$p]}) on :${PORT[$p]}, upstream :$PORT_UPSTREAM"
  start_proxy "$p"
  "$RUNNER" --proxy-port "${PORT[$p]}" --upstream-port "$PORT_UPSTREAM" --cases "$CASES" \
    --observe --timeout-ms "$TIMEOUT_MS" --report "$TMP/$p.tsv" "${filter_args[@]}" \
    >"$TMP/$p.out" || die "runner failed against $p: $(tail -n 5 "$TMP/$p.out")"
  echo "  $p: $(tail -n 1 "$TMP/$p.out")" >&2
  stop_proxy
done

# --- table -----------------------------------------------------------------------------------
# Report columns: name side result expected answers connection upstream mismatches note.
# A proxy "refused" a request-side case when its first final answer is its own (not the
# upstream's, "fwd ...") or there was none, a response-side case when it answered 5xx itself or
# not at all; weir is stricter where it refused and the other did not, more lenient the other way.
{
  echo "# Differential conformance: weir, HAProxy, nginx"
  echo
  echo "Generated by \`bench/conformance.sh\` on $(date -u +%Y-%m-%d) from the cases in"
  echo "\`tests/conformance/cases\`: ${VERSION[weir]}, ${VERSION[haproxy]}, ${VERSION[nginx]}"
  echo "(Debian packages, minimal configs written by the script). Each cell: the answers the"
  echo "client got (\`fwd\` = relayed from the upstream, otherwise the proxy's own), whether the"
  echo "proxy closed the connection, and what reached the upstream. ✓ = what the case expects"
  echo "of weir (see tests/conformance/README.md), ✗ = something else, with the first difference."
  echo
  awk -F'\t' -v names="weir haproxy nginx" '
    # The first final answer (interim 1xx ones skipped).
    function final_answer(a,   parts, n, i) {
      n = split(a, parts, ", ")
      for (i = 1; i <= n; i++)
        if (parts[i] !~ /^(fwd )?1[0-9][0-9]$/ || parts[i] ~ /101/) return parts[i]
      return "no answer"
    }
    # Request side: anything but the upstream'"'"'s relayed answer. Response side: the proxy'"'"'s
    # own 5xx or no answer (the scripted replies carry no 5xx of their own).
    function refused(a, sd,   f) {
      f = final_answer(a)
      if (sd == "request") return f !~ /^fwd/
      return f ~ /^(fwd )?5[0-9][0-9]/ || f ~ /^no answer/
    }
    function short_up(u) {
      if (u == "nothing") return "–"
      sub(/ request\(s\):.*/, " req", u)
      sub(/; reply connection reused/, ", reused", u)
      return u
    }
    function cell(p, n,   s, why) {
      s = ans[p, n] "; " conn[p, n] "; up: " short_up(up[p, n])
      if (res[p, n] != "PASS") {
        why = why_[p, n]
        sub(/; .*/, "", why)
        if (length(why) > 90) why = substr(why, 1, 87) "..."
        s = s " (" why ")"
      }
      gsub(/\|/, "\\|", s)
      return (res[p, n] == "PASS" ? "✓ " : "✗ ") s
    }
    FNR == 1 { file++; next }
    {
      split(names, pn, " ")
      p = pn[file]
      if (file == 1) { order[++count] = $1; side[$1] = $2; expected[$1] = $4; note[$1] = $9 }
      res[p, $1] = $3; ans[p, $1] = $5; conn[p, $1] = $6; up[p, $1] = $7; why_[p, $1] = $8
    }
    END {
      split(names, pn, " ")
      for (s = 1; s <= 2; s++) {
        sd = s == 1 ? "request" : "response"
        print "## " (s == 1 ? "Request side (client → proxy)" : "Response side (upstream → proxy)")
        print ""
        print "| case | expected of weir | weir | HAProxy | nginx |"
        print "|---|---|---|---|---|"
        for (i = 1; i <= count; i++) {
          n = order[i]
          if (side[n] != sd) continue
          e = expected[n]; gsub(/\|/, "\\|", e)
          print "| `" n "` | " e " | " cell("weir", n) " | " cell("haproxy", n) " | " cell("nginx", n) " |"
        }
        print ""
      }
      print "## Summary"
      print ""
      print "| | weir | HAProxy | nginx |"
      print "|---|---|---|---|"
      line = "| cases as expected of weir |"
      for (k = 1; k <= 3; k++) {
        m = 0
        for (i = 1; i <= count; i++) if (res[pn[k], order[i]] == "PASS") m++
        line = line " " m " / " count " |"
      }
      print line
      print ""
      for (k = 2; k <= 3; k++) {
        o = pn[k]
        stricter = ""; lenient = ""; ns = 0; nl = 0; differ = ""; nd = 0
        for (i = 1; i <= count; i++) {
          n = order[i]
          rw = refused(ans["weir", n], side[n]); ro = refused(ans[o, n], side[n])
          if (rw && !ro) { stricter = stricter " `" n "`"; ns++ }
          else if (!rw && ro) { lenient = lenient " `" n "`"; nl++ }
          else if (ans["weir", n] != ans[o, n] || conn["weir", n] != conn[o, n] ||
                   short_up(up["weir", n]) != short_up(up[o, n])) { differ = differ " `" n "`"; nd++ }
        }
        title = o == "haproxy" ? "HAProxy" : "nginx"
        print "**weir vs " title "**"
        print ""
        print "- weir refuses, " title " passes it on (" ns "):" (ns ? stricter : " none")
        print "- weir passes it on, " title " refuses or fails (" nl "):" (nl ? lenient : " none")
        print "- both forward or both refuse, but answers, connection or upstream differ (" nd "):" (nd ? differ : " none")
        print ""
      }
    }' "$TMP/weir.tsv" "$TMP/haproxy.tsv" "$TMP/nginx.tsv"
} >"$OUT"
log "wrote $OUT"
