#!/usr/bin/env bash
# One run on the GPU machine (the device tool), prepared here:
#   here:    bash scripts/prepare-device.sh <the shared device folder>/pack-node.sh
#            (a dry run of the checks on the CPU first:
#             INSALUN_CHECK_DEVICE=cpu INSALUN_CHECK_QUICK=1 INSALUN_CHECK_PRECISIONS=fp32 node scripts/device-check.mjs)
#   device:  carry [".device", "dist"]; run: bash scripts/device-check.sh
# It checks the CUDA backend against the CPU backend (fp32, tf32, bf16), captured steps against
# eager ones, measures throughput and the per-kernel tables, then runs the PyTorch peer
# (.device/torch_anchor.py) and torch.compile with CUDA graphs (scripts/torch_compile_graphs.py) in
# the same session, and leaves logs, JSON and Markdown in $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
source .device/env.sh
out=${OUT:-$(pwd)/device-out}
mkdir -p "$out" build/Release
cp .device/addon/insalun.node build/Release/insalun.node
[ -e node_modules ] || ln -s .device/node_modules node_modules
OUT="$out" node scripts/device-check.mjs 2>&1 | tee "$out/insalun.log" || true
# The anchor's own torch.compile case (default mode, ~20k img/s) is skipped unless SKIP_COMPILE=0:
# the peer to beat is torch.compile with CUDA graphs, timed next by our script on the anchor's model.
(cd .device && SKIP_COMPILE=${SKIP_COMPILE:-1} OUT="$out" timeout "${ANCHOR_TIMEOUT:-240}" python3 torch_anchor.py) 2>&1 | tee "$out/torch.log" || true
OUT="$out" timeout "${GRAPHS_TIMEOUT:-150}" python3 scripts/torch_compile_graphs.py ${GRAPHS_BATCHES:-256 512} 2>&1 | tee -a "$out/torch.log" || true
node scripts/side-by-side.mjs "$out" || true
