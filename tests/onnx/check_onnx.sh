#!/usr/bin/env bash
# check_onnx.sh: one model through the ONNX runtime check.
#   1. onnx_reference makes (or takes) the model and writes imgcls's probabilities on the
#      first MNIST test images;
#   2. `imgcls export MODEL --onnx` writes the ONNX file;
#   3. compare.js runs it in onnxruntime-node and compares.
# Usage: check_onnx.sh IMGCLS ONNX_REFERENCE NODE ORT_PREFIX WORK_DIR -- ONNX_REFERENCE_ARGS...
# where the arguments start with --model FILE, or with --arch SPEC (the model is saved in WORK_DIR).
# ORT_PREFIX is the folder scripts/setup.sh --onnx-runtime installs into. A missing node or
# onnxruntime-node fails the test: it never passes without running the model. Each step is
# bounded (STEP_SECONDS, 120 by default; then SIGTERM, and SIGKILL 10 s later) and a step
# that runs out of time fails the test, saying so.
set -euo pipefail

[ $# -ge 6 ] && [ "$6" = "--" ] || { echo "usage: $0 IMGCLS ONNX_REFERENCE NODE ORT_PREFIX WORK_DIR -- ARGS..." >&2; exit 2; }
imgcls=$1 reference_tool=$2 node=$3 ort_prefix=$4 work=$5
shift 6
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ort_dir="$ort_prefix/node_modules/onnxruntime-node"
step_seconds=${STEP_SECONDS:-120}

# bounded COMMAND...: runs COMMAND under coreutils timeout; its exit status, named when the
# time ran out.
bounded() {
  local status=0
  timeout --kill-after=10 "$step_seconds" "$@" || status=$?
  if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    echo "check_onnx.sh: FAIL: still running after ${step_seconds} s, stopped: $*" >&2
  fi
  return "$status"
}

[ -x "$node" ] || { echo "check_onnx.sh: FAIL: node not found ('$node'); install Node.js (scripts/setup.sh)" >&2; exit 1; }
[ -f "$ort_dir/package.json" ] || {
  echo "check_onnx.sh: FAIL: onnxruntime-node is not installed in $ort_prefix (run scripts/setup.sh --onnx-runtime)" >&2
  exit 1
}

rm -rf "$work"
mkdir -p "$work"
if [ "$1" = "--model" ]; then
  model=$2
  bounded "$reference_tool" "$@" --reference "$work/reference.bin"
else
  model="$work/model.safetensors"
  bounded "$reference_tool" "$@" --save "$model" --reference "$work/reference.bin"
fi
bounded "$imgcls" export "$model" --onnx "$work/model.onnx"
bounded "$node" "$here/compare.js" "$ort_dir" "$work/model.onnx" "$work/reference.bin"
