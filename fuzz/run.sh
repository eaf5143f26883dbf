#!/usr/bin/env bash
# Runs each libFuzzer harness of a build made with IMGCLS_FUZZ=ON for a bounded time, one
# after the other, on a copy of its seed corpus (fuzz/corpus/<name>; what the fuzzer adds
# stays in the build folder). Prints each run's executions and last coverage line; fails on the
# first finding, whose input is saved as <build>/fuzz/artifacts/<harness>-crash-...
# Usage: fuzz/run.sh <build dir> <seconds per harness> [harness ...]
#   FUZZ_SEED: libFuzzer's -seed (default 1). With a fixed seed, a run from the same corpus
#     (in CI's clean clone, the committed seeds) tries the same inputs in the same order, so
#     CI cannot fail a commit at random on a finding its change did not cause (how far the
#     run gets in its seconds still depends on the machine; FUZZ_RUNS fixes that too).
#     Another seed explores elsewhere: FUZZ_SEED=$RANDOM.
#   FUZZ_RUNS: also stop after this many inputs (libFuzzer's -runs; default: no limit).
#   FUZZ_FLAGS: more libFuzzer flags, e.g. FUZZ_FLAGS="-jobs=1 -workers=1".
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:?usage: fuzz/run.sh <build dir> <seconds per harness> [harness ...]}" && pwd)
seconds=${2:?usage: fuzz/run.sh <build dir> <seconds per harness> [harness ...]}
shift 2
harnesses=("$@")
seed=${FUZZ_SEED:-1}
[[ "$seed" =~ ^[0-9]+$ ]] || { echo "fuzz/run.sh: FUZZ_SEED must be a number, not '$seed'" >&2; exit 2; }
run_limit=()
if [ -n "${FUZZ_RUNS:-}" ]; then
  [[ "$FUZZ_RUNS" =~ ^[0-9]+$ ]] || { echo "fuzz/run.sh: FUZZ_RUNS must be a number, not '$FUZZ_RUNS'" >&2; exit 2; }
  run_limit=(-runs="$FUZZ_RUNS")
fi
[ ${#harnesses[@]} -gt 0 ] || harnesses=(idx image model architecture)

# Leaks are findings too; the fuzzer checks them per input. UBSan stops at the first report.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:suppressions=$repo_root/fuzz/ubsan.supp}

work="$build/fuzz"
mkdir -p "$work/artifacts" "$work/logs"
# The layer registry's seeds and dictionary words (make_fuzz_corpus --registry), so that a
# new layer kind is fuzzed without editing fuzz/: written here when the tool is built.
generated="$work/generated"
if [ -x "$build/fuzz/make_fuzz_corpus" ]; then
  rm -rf "$generated"
  "$build/fuzz/make_fuzz_corpus" --registry "$generated" "$repo_root" >/dev/null
fi
for name in "${harnesses[@]}"; do
  binary="$build/fuzz/${name}_fuzz"
  [ -x "$binary" ] || { echo "fuzz/run.sh: no $binary (configure with -DIMGCLS_FUZZ=ON)" >&2; exit 2; }
  corpus="$work/corpus/$name"
  mkdir -p "$corpus"
  log="$work/logs/$name.log"
  echo "[fuzz] $name: ${seconds}s on fuzz/corpus/$name, seed $seed" >&2
  rm -f "$work/fuzz-0.log"
  touch "$work/started"
  status=0
  # shellcheck disable=SC2086 # FUZZ_FLAGS is a list of flags
  seeds=("$repo_root/fuzz/corpus/$name")
  [ -d "$generated/$name" ] && seeds+=("$generated/$name")
  dict="$repo_root/fuzz/dict/$name.dict"
  [ -f "$generated/$name.dict" ] && dict="$generated/$name.dict"
  (cd "$work" && "$binary" "$corpus" "${seeds[@]}" \
    -dict="$dict" -seed="$seed" -max_total_time="$seconds" "${run_limit[@]}" \
    -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/$name-" ${FUZZ_FLAGS:-}) >"$log" 2>&1 || status=$?
  if [ -f "$work/fuzz-0.log" ]; then  # -jobs=1: the fuzzing ran in a child that logs there
    cat "$work/fuzz-0.log" >>"$log"
    rm -f "$work/fuzz-0.log"
  fi
  last_stats=$(grep -E '^#[0-9]+.*cov:' "$log" | tail -1 || true)
  runs=$(grep -E '^stat::number_of_executed_units' "$log" | tail -1 | awk '{print $2}' || true)
  echo "[fuzz] $name: ${runs:-?} executions; last stats: ${last_stats:-none}" >&2
  if [ "$status" -ne 0 ] || ! grep -qE '^Done [0-9]+ runs' "$log" ||
     [ -n "$(find "$work/artifacts" -name "$name-*" -newer "$work/started")" ]; then
    echo "[fuzz] $name FAILED (exit $status); the end of $log:" >&2
    tail -n 60 "$log" >&2
    exit 1
  fi
done
