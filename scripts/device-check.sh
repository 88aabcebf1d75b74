#!/usr/bin/env bash
# One run on the GPU machine (the device tool), prepared here:
#   here:   bash ../shared/device/pack-node.sh            # Node for the device, into .device/
#           CUDA_ARCHS=90 CUDNN_ROOT=... bash scripts/build-cuda.sh && npm run build
#   device: carry .device, build/Release, dist, node_modules/{node-gyp-build,libsvm-js,...} (production deps)
#           and run: bash scripts/device-check.sh
# It checks the CUDA backend against the CPU backend, measures CUDA throughput, then runs the
# PyTorch peer (.device/torch_anchor.py) in the same session, and leaves logs in $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
source .device/env.sh
out=${OUT:-$(pwd)/device-out}
mkdir -p "$out"
OUT="$out" node scripts/device-check.mjs 2>&1 | tee "$out/insalun.log" || true
(cd .device && SKIP_COMPILE=${SKIP_COMPILE:-0} OUT="$out" timeout 300 python3 torch_anchor.py) 2>&1 | tee "$out/torch.log" || true
