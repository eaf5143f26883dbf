#!/usr/bin/env bash
# check_every_kind.sh: every registered layer kind through the ONNX runtime check
# (check_onnx.sh), each in a small classifier of MNIST digits built around it by
# onnx_reference --kind and trained for 40 steps. The kinds come from the registry
# (onnx_reference --list-kinds): a new kind is checked without editing anything here.
# Usage: check_every_kind.sh IMGCLS ONNX_REFERENCE NODE ORT_PREFIX WORK_DIR
set -euo pipefail
[ $# -eq 5 ] || { echo "usage: $0 IMGCLS ONNX_REFERENCE NODE ORT_PREFIX WORK_DIR" >&2; exit 2; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
kinds=$("$2" --list-kinds)
[ -n "$kinds" ] || { echo "check_every_kind.sh: FAIL: no registered layer kinds" >&2; exit 1; }
failed=()
for kind in $kinds; do
  echo "== $kind"
  bash "$here/check_onnx.sh" "$1" "$2" "$3" "$4" "$5/$kind" -- --kind "$kind" --train-steps 40 --seed 11 --count 200 \
    || failed+=("$kind")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "check_every_kind.sh: FAIL: ${failed[*]}" >&2
  exit 1
fi
echo "check_every_kind.sh: every kind matches in onnxruntime: $(echo $kinds)"
