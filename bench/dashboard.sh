#!/usr/bin/env bash
# The dashboard's cost, side by side with HAProxy's stats page and nginx's stub_status: see
# bench/dashboard.mjs and bench/README.md. About 5 minutes.
# Needs: chromium, haproxy, nginx, strace, taskset, node and npm (apt-get install chromium
# haproxy nginx-light strace util-linux nodejs npm), build/weir, build/weirctl,
# build/weir-demo-upstream, and tests/browser's npm packages (installed here with `npm ci` from
# the lockfile when missing).
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."
for tool in chromium haproxy nginx strace taskset node npm; do
  command -v "$tool" >/dev/null || { echo "bench/dashboard.sh: $tool is missing (./dev deps)" >&2; exit 2; }
done
for bin in weir weirctl weir-demo-upstream; do
  [[ -x build/$bin ]] || { echo "bench/dashboard.sh: build/$bin is missing (./dev build)" >&2; exit 2; }
done
[[ -d tests/browser/node_modules/puppeteer-core ]] ||
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
# This script, chromium, the load and the upstreams on CPU 1; the proxy measured on CPU 0.
exec taskset -c 1 node bench/dashboard.mjs "$@"
