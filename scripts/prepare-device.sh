#!/usr/bin/env bash
# Prepares, on a machine without a GPU, everything the one-shot GPU run needs, inside .device/
# (ignored by git): the CUDA addon built for sm_90, the compiled JavaScript, the dependencies
# (compressed), and Node with the PyTorch peer (the shared folder's pack-node.sh). Then, with the
# device tool:   carry [".device", "dist"]   and run   bash scripts/device-check.sh
# Usage: scripts/prepare-device.sh PACK_NODE_SCRIPT [CUDNN_DIR]
#   PACK_NODE_SCRIPT  the shared device folder's pack-node.sh
#   CUDNN_DIR         where fetch-cudnn-headers.sh keeps cuDNN's headers (default: a temp folder)
set -euo pipefail
cd "$(dirname "$0")/.."
pack=${1:?usage: $0 PACK_NODE_SCRIPT [CUDNN_DIR]}
cudnn_dir=${2:-${TMPDIR:-/tmp}/insalun-cudnn}

bash "$pack"  # Node and the PyTorch peer, into .device/
root=$(bash scripts/fetch-cudnn-headers.sh "$cudnn_dir" | sed -n 's/^CUDNN_ROOT=//p')
# The GPU host's CPU is unknown (this machine's may have AVX-512 that it lacks), so the C++ is built
# for any AVX2 CPU rather than -march=native: a CPU reference that dies of SIGILL would lose the run.
CUDA_ARCHS=90 CPU_ARCH=x86-64-v3 CUDNN_ROOT="$root" BUILD_DIR="${TMPDIR:-/tmp}/insalun-cuda-build" OUTPUT_DIR=.device/addon \
  bash scripts/build-cuda.sh
npm run build
# The dependencies, dev ones included (the device run starts with the vitest suites), compressed:
# less the TypeScript compiler and type declarations, which running the tests does not need.
rm -rf .device/node_modules
tar -cJf .device/node_modules.tar.xz --exclude=node_modules/typescript --exclude=node_modules/@types \
  --exclude=node_modules/.cache node_modules
du -sh .device dist
