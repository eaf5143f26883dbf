#!/usr/bin/env bash
# check_style.sh: the mechanical style checks, as CI runs them (make check-style):
#   1. every C and C++ file of the repository is formatted as .clang-format says;
#   2. clang-tidy, with the checks of .clang-tidy, finds nothing in the library, the command
#      line and the C interface (the files of src/, cli/ and capi/ in the build's
#      compile_commands.json; their C and C++ files, not the assembler that includes the
#      built-in model);
#   3. no #include points up or across the libraries of src/DEPENDENCIES.
# Usage: scripts/check_style.sh BUILD_DIR   (a configured build: make configure)
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:?usage: scripts/check_style.sh BUILD_DIR}" && pwd)
cd "$repo_root"
format=clang-format-14 tidy=run-clang-tidy-14
command -v $format >/dev/null || { echo "check_style: $format is not installed (scripts/setup.sh)" >&2; exit 1; }
command -v $tidy >/dev/null || { echo "check_style: $tidy is not installed (scripts/setup.sh)" >&2; exit 1; }
[ -f "$build/compile_commands.json" ] || { echo "check_style: no $build/compile_commands.json (configure first)" >&2; exit 1; }

mapfile -t sources < <(git ls-files '*.c' '*.cpp' '*.h' '*.hpp')
echo "[style] clang-format: ${#sources[@]} files" >&2
$format --dry-run --Werror "${sources[@]}"

echo "[style] clang-tidy: src/, cli/, capi/ (.clang-tidy)" >&2
$tidy -quiet -p "$build" -j "$(nproc)" "$repo_root/(src|cli|capi)/.*\.(c|cpp)$" >"$build/clang-tidy.log" 2>&1 || {
  grep -E "(warning|error):" "$build/clang-tidy.log" | sort -u >&2 || tail -n 40 "$build/clang-tidy.log" >&2
  echo "[style] clang-tidy found the above (whole output: $build/clang-tidy.log)" >&2
  exit 1
}

echo "[style] layering (src/DEPENDENCIES)" >&2
python3 scripts/check_layering.py "$repo_root"
