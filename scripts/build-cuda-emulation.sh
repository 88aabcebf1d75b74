#!/usr/bin/env bash
# Builds the addon with the CUDA backend over the CPU emulation of CUDA (native/cuda_emulation):
# the backend's own .cu sources compiled as C++, kernels run by a fiber per GPU thread, the CUDA
# runtime and cuDNN reimplemented on host memory. For running the CUDA parity suites where there is
# no GPU; it measures nothing about speed. Needs the CUDA toolkit's headers and cuDNN's (no GPU, no
# libraries): CUDNN_ROOT as for scripts/build-cuda.sh, e.g. from scripts/fetch-cudnn-headers.sh.
#   scripts/build-cuda-emulation.sh                       # -> build/emulation/insalun.node
#   INSALUN_ADDON=build/emulation/insalun.node npx vitest run test/native -t "cuda|CUDA"
# Environment: BUILD_DIR (CMake's tree, default build/cmake-emulation), OUTPUT_DIR (default
# build/emulation).
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(realpath -m "${BUILD_DIR:-build/cmake-emulation}")
dest=$(realpath -m "${OUTPUT_DIR:-build/emulation}")
defs=(--out "$work" --CDINSALUN_CUDA_EMULATION=ON "--CDCMAKE_LIBRARY_OUTPUT_DIRECTORY=$dest")
[ -n "${CUDNN_ROOT:-}" ] && defs+=("--CDCUDNN_ROOT=$CUDNN_ROOT")
jobs=$(nproc 2>/dev/null || echo 4)

npx --no-install cmake-js configure "${defs[@]}" "$@"
npx --no-install cmake-js build --out "$work" --parallel "$jobs" "$@"

[ -f "$dest/insalun.node" ] || { echo "build-cuda-emulation.sh: $dest/insalun.node was not produced" >&2; exit 1; }
echo "built $dest/insalun.node"
