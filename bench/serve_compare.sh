#!/usr/bin/env bash
# serve_compare.sh: bench/serve_load.sh for two builds of imgcls, alternating in rounds so
# that both see the same machine, then the median requests/s and p99 latency of each and
# their ratio. For a change to the server or the inference path, with the build before it as
# the baseline.
#   bench/serve_compare.sh --baseline DIR [--build DIR] [--rounds 3] [serve_load.sh options...]
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir="$repo_root/build"
baseline=
rounds=3
passed=()
while [ $# -gt 0 ]; do
  case "$1" in
    --baseline) baseline=$2; shift 2 ;;
    --build) build_dir=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    *) passed+=("$1"); shift ;;
  esac
done
[ -n "$baseline" ] || { echo "usage: bench/serve_compare.sh --baseline DIR [--build DIR] [--rounds N] [serve_load.sh options]" >&2; exit 2; }

# "summary: 3154.20 requests/s; latency p50 2.46ms, p90 3.07ms, p99 4.83ms; ..." -> "3154.20 4.83"
# (wrk prints latencies in us, ms or s).
measure() {
  "$repo_root/bench/serve_load.sh" --build "$1" "${passed[@]}" | awk '
    /^summary:/ {
      rps = $2
      p99 = $0; sub(/.*p99 /, "", p99); sub(/;.*/, "", p99)
      value = p99 + 0
      if (p99 ~ /us$/) value /= 1000; else if (p99 ~ /ms$/) value += 0; else if (p99 ~ /s$/) value *= 1000
      print rps, value
    }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

new_rps=() new_p99=() old_rps=() old_p99=()
for round in $(seq 1 "$rounds"); do
  echo "round $round/$rounds" >&2
  read -r rps p99 < <(measure "$build_dir"); new_rps+=("$rps"); new_p99+=("$p99")
  read -r rps p99 < <(measure "$baseline"); old_rps+=("$rps"); old_p99+=("$p99")
  echo "  this build ${new_rps[-1]} requests/s, p99 ${new_p99[-1]} ms; baseline ${old_rps[-1]} requests/s, p99 ${old_p99[-1]} ms" >&2
done
nr=$(printf '%s\n' "${new_rps[@]}" | median); np=$(printf '%s\n' "${new_p99[@]}" | median)
orr=$(printf '%s\n' "${old_rps[@]}" | median); op=$(printf '%s\n' "${old_p99[@]}" | median)
echo
echo "| server | requests/s (median of $rounds) | p99 latency, ms (median) |"
echo "|---|---|---|"
echo "| this build ($build_dir) | $nr | $np |"
echo "| baseline ($baseline) | $orr | $op |"
awk -v a="$nr" -v b="$orr" -v c="$np" -v d="$op" 'BEGIN { printf "| ratio | %.2fx | %.2fx lower |\n", a / b, d / c }'
