#!/usr/bin/env bash
# Fetches what compiling and linking the CUDA backend needs from cuDNN, without a GPU: the headers
# and the 129 KB libcudnn.so.9 front library of the nvidia-cudnn-cu13 wheel (the ~1 GB of kernels
# in the rest of the wheel are only needed to run). Used by CI; afterwards build with
#   CUDNN_ROOT=DIR/nvidia/cudnn scripts/build-cuda.sh
# Usage: scripts/fetch-cudnn-headers.sh DIR      (DIR should be outside the repository)
set -euo pipefail
version=${CUDNN_WHEEL_VERSION:-9.24.0.43}
dir=${1:?usage: $0 DIR}
mkdir -p "$dir"
cd "$dir"
if [ ! -f nvidia/cudnn/include/cudnn.h ] || [ ! -f nvidia/cudnn/lib/libcudnn.so.9 ]; then
  python3 -m pip download --no-deps "nvidia-cudnn-cu13==$version" -d cudnn-wheel
  unzip -q -o cudnn-wheel/nvidia_cudnn_cu13-*.whl 'nvidia/cudnn/include/*' 'nvidia/cudnn/lib/libcudnn.so.9' -d .
  rm -rf cudnn-wheel
fi
echo "CUDNN_ROOT=$(pwd)/nvidia/cudnn"
