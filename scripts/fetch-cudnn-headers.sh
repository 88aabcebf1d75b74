#!/usr/bin/env bash
# Fetches cuDNN from the nvidia-cudnn-cu13 wheel without a GPU: by default only what compiling the
# CUDA backend needs, the headers (and the 129 KB libcudnn.so.9 front library); with
# CUDNN_LIBRARIES=1 also the libraries a convolution loads at run time (about 520 MB: graph, ops,
# cnn, heuristics and the engines), which the CUDA build's fault tests use as the complete cuDNN.
# Used by CI; afterwards build with
#   CUDNN_ROOT=DIR/nvidia/cudnn scripts/build-cuda.sh
# The headers' version is the oldest cuDNN the addon accepts at run time: CUDNN_WHEEL_VERSION picks
# another wheel (the oldest your machines have).
# Usage: scripts/fetch-cudnn-headers.sh DIR      (DIR should be outside the repository)
set -euo pipefail
version=${CUDNN_WHEEL_VERSION:-9.24.0.43}
dir=${1:?usage: $0 DIR}
mkdir -p "$dir"
cd "$dir"
runtime_libraries=(libcudnn_graph.so.9 libcudnn_ops.so.9 libcudnn_cnn.so.9 libcudnn_heuristic.so.9
  libcudnn_engines_precompiled.so.9 libcudnn_engines_runtime_compiled.so.9)
wanted=('nvidia/cudnn/include/*' 'nvidia/cudnn/lib/libcudnn.so.9')
complete=true
[ -f nvidia/cudnn/include/cudnn.h ] && [ -f nvidia/cudnn/lib/libcudnn.so.9 ] || complete=false
if [ "${CUDNN_LIBRARIES:-0}" = 1 ]; then
  for lib in "${runtime_libraries[@]}"; do
    wanted+=("nvidia/cudnn/lib/$lib")
    [ -f "nvidia/cudnn/lib/$lib" ] || complete=false
  done
fi
if [ "$complete" = false ]; then
  python3 -m pip download --no-deps "nvidia-cudnn-cu13==$version" -d cudnn-wheel
  unzip -q -o cudnn-wheel/nvidia_cudnn_cu13-*.whl "${wanted[@]}" -d .
  rm -rf cudnn-wheel
fi
echo "CUDNN_ROOT=$(pwd)/nvidia/cudnn"
