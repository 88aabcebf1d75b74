#!/usr/bin/env bash
# A CUDA addon to copy to other machines, which may lack nvcc (a lab's shared build): C++ for any
# x86-64 CPU with AVX2 and FMA (x86-64-v3) rather than the building machine's, kernels for
# sm_80/86/89/90 plus PTX that newer GPUs compile on load, the CUDA runtime linked statically, and
# cuDNN loaded at run time (found through CUDNN_ROOT, the library path or python3's nvidia-cudnn
# wheel), so the file names no path of the machine that built it. Build it against the OLDEST cuDNN
# 9 the machines have: that version is the oldest it accepts (native/cuda/cudnn_library.h).
#   CUDNN_ROOT=path/to/cudnn scripts/build-cuda-portable.sh      # -> build/cuda-portable/insalun.node
# Then on each machine: INSALUN_ADDON=/shared/insalun.node npx insalun doctor (see docs/gpu.md).
# Environment as for scripts/build-cuda.sh (BUILD_DIR, OUTPUT_DIR, CUDA_ARCHS).
set -euo pipefail
cd "$(dirname "$0")/.."
export CPU_ARCH=x86-64-v3
export CUDA_ARCHS="${CUDA_ARCHS:-80-real;86-real;89-real;90}"
export BUILD_DIR="${BUILD_DIR:-build/cmake-cuda-portable}"
export OUTPUT_DIR="${OUTPUT_DIR:-build/cuda-portable}"
exec bash scripts/build-cuda.sh "$@"
