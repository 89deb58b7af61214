#!/usr/bin/env bash
# bench/profile.sh: where weir's user-space CPU goes per request, in instructions (Ir): a
# callgrind profile of the request path. weir (release build, 1 worker, bench/run.sh's config:
# two weir-demo-upstream split 90/10, upstream keep-alive) runs under
# `valgrind --tool=callgrind --instr-atstart=no`; after a warm-up the script turns
# instrumentation on (callgrind_control -i on), runs a fixed wrk load, turns it off, dumps, stops,
# and prints per request (Ir / the requests wrk completed):
#   - the total for each thread (the worker is the busiest one; the other is the control thread),
#   - the worker's exclusive Ir by group (weir, Asio, llhttp, libc, syscall wrappers, libstdc++),
#   - the top TOP functions by exclusive Ir, and the top inclusive entries under the worker's
#     event loop (callgrind_annotate --inclusive=yes).
# Kernel time (the syscalls' work) is invisible to callgrind; bench/run.sh's cpu and syscalls
# parts measure it. Ir under valgrind is deterministic enough to compare builds; wall-clock rates
# under valgrind mean nothing.
#
# Environment (defaults):
#   MODE=keepalive      keepalive: wrk keeps its connections; close: wrk -H 'Connection: close'
#                       (a new client connection per request, upstream keep-alive)
#   DURATION=5s CONNS=8 the measured wrk run (wrk -t1 -cCONNS -dDURATION)
#   WARMUP=2s           wrk run before instrumentation is turned on (not counted)
#   TOP=25              rows in the exclusive and inclusive tables
#   BUILD=<repo>/build  where weir and weir-demo-upstream are (ninja -C build weir weir-demo-upstream)
#   OUT=FILE            also write the report to FILE
#   KEEP_TMP=1          keep the temp dir (config, logs, callgrind.out.* for callgrind_annotate or
#                       kcachegrind)
# Needs: valgrind (callgrind_control, callgrind_annotate), wrk, python3, ss.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=bench/profile.sh
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

BUILD=${BUILD:-$ROOT/build}
MODE=${MODE:-keepalive}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-8}
WARMUP=${WARMUP:-2s}
TOP=${TOP:-25}
WRK_ARGS=()
case $MODE in
keepalive) ;;
close) WRK_ARGS=(-H 'Connection: close') ;;
*) die "MODE must be keepalive or close, not '$MODE'" ;;
esac
for tool in valgrind callgrind_control callgrind_annotate wrk python3 ss; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found (apt-get install valgrind wrk python3 iproute2)"
done
for bin in "$BUILD/weir" "$BUILD/weir-demo-upstream"; do
  [[ -x $bin ]] || die "$bin not found; build first: ninja -C ${BUILD#"$ROOT"/} weir weir-demo-upstream"
done

# Ports: the first free block from 24000 (+1/+2 upstreams, +11 weir).
for ((base = 24000; base < 32000; base += 100)); do
  PORT_V1=$((base + 1)) PORT_V2=$((base + 2)) PORT=$((base + 11))
  port_free "$PORT_V1" && port_free "$PORT_V2" && port_free "$PORT" && break
done
port_free "$PORT" || die "no free block of ports found"

TMP=$(mktemp -d /tmp/weir-profile.XXXXXX)
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  bench_cleanup
  if [[ ${KEEP_TMP:-0} == 1 || $rc != 0 ]]; then echo "$BENCH_NAME: files kept in $TMP" >&2; else rm -rf "$TMP"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for up in app-v1:$PORT_V1 app-v2:$PORT_V2; do
  "$BUILD/weir-demo-upstream" --listen "127.0.0.1:${up#*:}" --name "${up%%:*}" >"$TMP/${up%%:*}.log" 2>&1 &
  BENCH_PIDS+=($!)
  wait_port $! "${up#*:}" "${up%%:*}" "$TMP/${up%%:*}.log"
done
write_weir_conf "$TMP/weir.yaml" "$PORT" 1 2000 "$PORT_V1" "$PORT_V2"
log "starting weir under callgrind on :$PORT"
valgrind --tool=callgrind --instr-atstart=no --separate-threads=yes \
  --callgrind-out-file="$TMP/callgrind.out" "$BUILD/weir" --config "$TMP/weir.yaml" >"$TMP/weir.log" 2>&1 &
WEIR=$!
BENCH_PIDS+=("$WEIR")
for _ in $(seq 300); do # valgrind starts slowly: up to 60 s
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  kill -0 "$WEIR" 2>/dev/null || { tail -n 20 "$TMP/weir.log" >&2; die "weir exited during start-up"; }
  sleep 0.2
done

url=http://127.0.0.1:$PORT/
load="wrk -t1 -c$CONNS -d$DURATION${WRK_ARGS[*]:+ -H 'Connection: close'}"
log "warm-up: wrk -t1 -c$CONNS -d$WARMUP ${WRK_ARGS[*]}"
wrk -t1 -c"$CONNS" -d"$WARMUP" "${WRK_ARGS[@]}" "$url" >/dev/null
callgrind_control -i on "$WEIR" >"$TMP/control.log" 2>&1 || die "callgrind_control: $(cat "$TMP/control.log")"
log "measured: $load"
wrk -t1 -c"$CONNS" -d"$DURATION" "${WRK_ARGS[@]}" "$url" >"$TMP/wrk.txt"
{ callgrind_control -i off "$WEIR" && callgrind_control -d "$WEIR"; } >>"$TMP/control.log" 2>&1 ||
  die "callgrind_control: $(cat "$TMP/control.log")"
read -r _ _ _ errors requests _ <<<"$(parse_wrk <"$TMP/wrk.txt")"
((requests > 0)) || die "wrk completed no request: $(cat "$TMP/wrk.txt")"
kill -TERM "$WEIR"
wait "$WEIR" 2>/dev/null || true
shopt -s nullglob
dumps=("$TMP"/callgrind.out.1-*)
((${#dumps[@]})) || die "callgrind wrote no dump (weir log: $TMP/weir.log)"

commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -n $(git -C "$ROOT" status --porcelain --untracked-files=no -- . ':!bench' ':!*.md' 2>/dev/null) ]] &&
  commit+=" + uncommitted changes"
{
  echo "weir callgrind profile, $(date -u '+%Y-%m-%d %H:%M UTC'), tree at $commit, $BUILD/weir"
  echo "mode $MODE: $load -> $requests requests ($errors errors) under valgrind"
  python3 - "$requests" "$TOP" "${dumps[@]}" <<'PY'
import re, subprocess, sys

requests, top, dumps = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
LINE = re.compile(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+([^:]*):(.*?)(?: \[(.*)\])?$")

def annotate(path, inclusive):
    out = subprocess.run(["callgrind_annotate", "--threshold=100", f"--inclusive={'yes' if inclusive else 'no'}", path],
                         capture_output=True, text=True, check=True).stdout
    cost, obj, total = {}, {}, 0
    for line in out.splitlines():
        if line.endswith("PROGRAM TOTALS"): total = int(line.split()[0].replace(",", "")); continue
        m = LINE.match(line)
        if not m: continue
        # One function may come in several rows (one per source file it has code from); only
        # the first names the object file.
        ir, fn = int(m.group(1).replace(",", "")), m.group(3)
        cost[fn] = cost.get(fn, 0) + ir
        if m.group(4) or fn not in obj: obj[fn] = m.group(4) or ("libc" if m.group(2).startswith("./") else "")
    rows = sorted(((ir, fn, obj[fn]) for fn, ir in cost.items()), key=lambda r: -r[0])
    return total, rows

def short(name):
    """Drops template arguments and parameter lists; an Asio operation keeps the weir handler."""
    handler = re.search(r"weir::[A-Za-z_][\w:]*[A-Za-z_]", name) if name.startswith("boost::asio") else None
    s = name.replace("(anonymous namespace)", "{anon}").replace("non-virtual thunk to ", "thunk ")
    s = re.sub(r"operator(->\*?|<=>|<<=?|>>=?|<=?|>=?)", lambda m: "operator" + m.group(1).translate(str.maketrans("<>", "\1\2")), s)
    out, angle, paren = [], 0, 0
    for c in s:
        if c == "<":
            if angle == 0 and paren == 0: out.append("<>")
            angle += 1
        elif c == ">": angle -= 1
        elif angle: continue
        elif c == "(":
            if paren == 0: out.append("(")
            paren += 1
        elif c == ")":
            paren -= 1
            if paren == 0: out.append(")")
        elif paren == 0: out.append(c)
    s = re.sub(r"\(\)( const)?$", "", "".join(out)).translate(str.maketrans("\1\2", "<>"))
    if handler: s += f" [{handler.group(0)}]"
    return s if len(s) <= 100 else s[:99] + "…"

SYSCALLS = re.compile(r"^(__libc_|__)?(recv|recvfrom|recvmsg|send|sendto|sendmsg|writev|readv|read|write|"
                      r"epoll_wait|epoll_pwait|epoll_ctl|accept4?|close|shutdown|connect|socket|setsockopt|"
                      r"getsockopt|getsockname|getpeername|timerfd_settime|clock_gettime|syscall|ioctl|fcntl|"
                      r"eventfd_read|eventfd_write|io_uring_\w+)(64)?(_nocancel)?(@.*)?$")

def group(fn, obj):
    if fn.startswith("llhttp"): return "llhttp"
    if fn.startswith("boost::asio"): return "Asio"
    if "libc.so" in obj or "ld-linux" in obj or "vdso" in obj:
        return "syscall" if SYSCALLS.match(fn) else "libc"
    if "libstdc++" in obj: return "libstdc++"
    if fn.startswith(("weir::", "non-virtual thunk to weir::")): return "weir"
    return "other"

threads = sorted(((annotate(p, False), p) for p in dumps), key=lambda t: -t[0][0])
print("\nIr per request, by thread (the worker is the busiest):")
for i, ((total, _), path) in enumerate(threads):
    print(f"  thread {int(path.rsplit('-', 1)[1])}: {total / requests:10,.0f}{'  (worker)' if i == 0 else ''}")
(total, rows), worker = threads[0]
per = lambda ir: f"{ir / requests:8,.0f} {100 * ir / total:5.1f}%"
print(f"worker: {total / requests:,.0f} Ir per request ({total:,} Ir over {requests} requests)")

groups = {}
for ir, fn, obj in rows: groups[group(fn, obj)] = groups.get(group(fn, obj), 0) + ir
print("\nworker, exclusive Ir per request by group:")
LABEL = {"syscall": "syscall wrappers (libc)", "libc": "libc: memcpy, malloc, locks...",
         "other": "other (std:: and the rest)"}
for g, ir in sorted(groups.items(), key=lambda kv: -kv[1]): print(f"  {per(ir)}  {LABEL.get(g, g)}")

print(f"\nworker, top {top} functions by exclusive Ir per request:")
for ir, fn, obj in rows[:top]: print(f"  {per(ir)}  {group(fn, obj):<9}  {short(fn)}")

_, inc = annotate(worker, True)
print(f"\nworker, top {top} inclusive entries (Ir per request, % of the worker's total):")
for ir, fn, obj in inc[:top]: print(f"  {per(ir)}  {short(fn)}")
PY
} | if [[ -n ${OUT:-} ]]; then tee "$OUT"; else cat; fi
