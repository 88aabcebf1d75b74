#!/usr/bin/env bash
# Builds the addon with the CUDA backend over the CPU emulation of CUDA (native/cuda_emulation):
# the backend's own .cu sources compiled as C++, kernels run by a fiber per GPU thread, the CUDA
# runtime and cuDNN reimplemented on host memory. For running the CUDA parity suites where there is
# no GPU; it measures nothing about speed. Needs the CUDA toolkit's headers and cuDNN's (no GPU, no
# libraries): CUDNN_ROOT as for scripts/build-cuda.sh, e.g. from scripts/fetch-cudnn-headers.sh.
#   scripts/build-cuda-emulation.sh                       # -> build/emulation/insalun.node
#   INSALUN_ADDON=build/emulation/insalun.node npx vitest run test/native -t "cuda|CUDA"
# With AddressSanitizer (every kernel's memory accesses checked; the emulated cudaMalloc then gives
# exact sizes, so one element past the end is caught), loaded into Node ahead of everything else:
#   SANITIZE=address OUTPUT_DIR=build/emulation-asan BUILD_DIR=build/cmake-emulation-asan scripts/build-cuda-emulation.sh
#   LD_PRELOAD=$(scripts/sanitizer-runtime.sh build/emulation-asan/insalun.node) ASAN_OPTIONS=detect_leaks=0 \
#     INSALUN_ADDON=build/emulation-asan/insalun.node npx vitest run test/native -t "cuda|CUDA"
# Environment as for scripts/build-cuda.sh (CUDA_ARCHS aside): BUILD_DIR (default
# build/cmake-emulation), OUTPUT_DIR (default build/emulation), CPU_ARCH, SANITIZE.
set -euo pipefail
CUDA_EMULATION=1 exec bash "$(dirname "$0")/build-cuda.sh" "$@"
