#!/usr/bin/env bash
# Installs what gdpo needs on Debian 12 (run as root, or with sudo), then configures and builds it
# into build/. Idempotent: packages already present are not reinstalled.
#   jobs/setup.sh                 everything (the binary and the test suite)
#   GDPO_TARGET=gdpo jobs/setup.sh   only the binary (what jobs/quickstart.sh needs)
#   BUILD_TYPE=RelWithDebInfo jobs/setup.sh   with debug information (default Release: -O2, none)
#   jobs/setup.sh -DGDPO_UNITY=OFF   other arguments go to cmake (here: one translation unit per file)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config ccache
  libtorch-dev libopenblas0-pthread           # LibTorch 1.13 (CPU); OpenBLAS makes its GEMMs ~100x faster
  libopenmpi-dev openmpi-bin                  # MPI
  libhdf5-dev                                 # checkpoints, metrics, caches
  libboost-program-options-dev                # the command line and INI configs
  nlohmann-json3-dev libpcre2-dev             # safetensors headers, JSONL; GPT-2 pre-tokenization
  googletest libgtest-dev                     # the test suite
  python3-h5py python3-numpy python3-pandas python3-matplotlib  # analysis/ (post-hoc, never training)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  echo "gdpo setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

BUILD_DIR=${BUILD_DIR:-build}
# Ninja for a new build folder (it overlaps the modules' compiles; make waits for each library); an
# existing folder keeps the generator it was made with.
generator=()
[ -f "$BUILD_DIR/CMakeCache.txt" ] || generator=(-G Ninja)
cmake -S . -B "$BUILD_DIR" "${generator[@]}" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-Release} "$@" >/dev/null
if [ -n "${GDPO_TARGET:-}" ]; then
  cmake --build "$BUILD_DIR" -j"$(nproc)" --target "$GDPO_TARGET"
else
  cmake --build "$BUILD_DIR" -j"$(nproc)"
fi
echo "gdpo setup: built $BUILD_DIR/${GDPO_TARGET:-gdpo and the tests}"
