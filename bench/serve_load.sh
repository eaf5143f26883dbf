#!/usr/bin/env bash
# serve_load.sh: load test of `imgcls serve` (a measurement, not a test). Starts the server on
# a free loopback port, runs wrk against POST /predict with a PNG body, and reports requests/s,
# latency percentiles, non-2xx answers and socket errors, and the server's resident memory
# (VmRSS) before and after the run. Stops the server with SIGTERM and checks it exits 0.
#   bench/serve_load.sh [--build DIR] [--model FILE] [--png FILE] [--duration 30s]
#                       [--threads 2] [--connections 8]
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir="$repo_root/build"
model="$repo_root/tests/fixtures/seed_model.safetensors"
png="$repo_root/tests/images/digits/hand_007.png"  # a hand-drawn 7 (tests/images/labels.csv)
duration=30s
threads=2
connections=8

while [ $# -gt 0 ]; do
  case "$1" in
    --build) build_dir=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --png) png=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    *) echo "usage: bench/serve_load.sh [--build DIR] [--model FILE] [--png FILE] [--duration 30s] [--threads N] [--connections N]" >&2; exit 2 ;;
  esac
done

binary="$build_dir/imgcls"
[ -x "$binary" ] || { echo "serve_load: no $binary (build first)" >&2; exit 1; }
[ -f "$png" ] || { echo "serve_load: no picture $png" >&2; exit 1; }
command -v wrk >/dev/null || { echo "serve_load: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
command -v curl >/dev/null || { echo "serve_load: curl is not installed" >&2; exit 1; }

work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill -TERM "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

"$binary" serve "$model" --port 0 >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
url=
for _ in $(seq 1 300); do
  url=$(grep -o 'http://[0-9.]*:[0-9]*' "$work/server.out" || true)
  [ -n "$url" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.err" >&2; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "serve_load: the server printed no address" >&2; exit 1; }

rss_before=$(rss_kib "$server_pid")
answer=$(curl -sS --data-binary "@$png" -H 'Content-Type: image/png' "$url/predict")
echo "server: $url (pid $server_pid), model $(basename "$model")"
echo "body:   $png ($(stat -c %s "$png") bytes) -> $answer"

cat >"$work/predict.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "image/png"
local file = io.open("$png", "rb")
wrk.body = file:read("*a")
file:close()
LUA

wrk --threads "$threads" --connections "$connections" --duration "$duration" --latency \
  --script "$work/predict.lua" "$url/predict" | tee "$work/wrk.out"
rss_after=$(rss_kib "$server_pid")

non_2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$work/wrk.out")
socket_errors=$(grep -o 'Socket errors:.*' "$work/wrk.out" || echo "Socket errors: none")
echo
echo "summary: $(awk '/Requests\/sec:/ { print $2 }' "$work/wrk.out") requests/s;" \
  "latency p50 $(awk '$1 == "50%" { print $2 }' "$work/wrk.out")," \
  "p90 $(awk '$1 == "90%" { print $2 }' "$work/wrk.out")," \
  "p99 $(awk '$1 == "99%" { print $2 }' "$work/wrk.out");" \
  "non-2xx ${non_2xx:-0}; $socket_errors"
echo "server RSS: ${rss_before} KiB before, ${rss_after} KiB after"

kill -TERM "$server_pid"
status=0
wait "$server_pid" || status=$?
server_pid=
echo "server exit code on SIGTERM: $status"
[ "$status" -eq 0 ]
