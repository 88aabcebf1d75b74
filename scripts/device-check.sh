#!/usr/bin/env bash
# One run on the GPU machine (the device tool), prepared here:
#   here:    bash scripts/prepare-device.sh <the shared device folder>/pack-node.sh
#            (a dry run of the checks on the CPU first:
#             INSALUN_CHECK_DEVICE=cpu INSALUN_CHECK_QUICK=1 INSALUN_CHECK_PRECISIONS=fp32 node scripts/device-check.mjs)
#   device:  carry [".device", "dist"]; run: bash scripts/device-check.sh   (timeout_s 560)
# In order, each stage time-boxed so that the later ones still get their turn:
#   1. the vitest suites that have CUDA cases (the parity suite, op conformance, kernel bench);
#   2. scripts/device-check.mjs: the CUDA backend against the CPU backend op by op and on whole
#      models (fp32, tf32, bf16 and its variants), captured against eager steps, throughput and the
#      per-kernel tables;
#   3. the PyTorch peer (.device/torch_anchor.py) and torch.compile with CUDA graphs
#      (scripts/torch_compile_graphs.py), in the same session on the same GPU;
#   4. the demo (the whole unlearning pipeline) on the CUDA backend;
#   5. where the machine has compute-sanitizer and time is left: the op suites under its memcheck
#      (out-of-bounds and misaligned accesses) and racecheck (shared-memory hazards), the GPU's
#      counterparts of the emulation's AddressSanitizer and launch-order checks;
#   6. the side-by-side table.
# Everything lands in $OUT: logs, JSON, Markdown.
set -uo pipefail
cd "$(dirname "$0")/.."
source .device/env.sh
# The addon is built here against the cuDNN 9.24 headers (the wheel this machine's index has), while
# the GPU machine's PyTorch environment holds cuDNN 9.19: older than the headers, which the addon
# refuses by default (NVIDIA supports 9.y-built code on 9.z only for z >= y). The legacy convolution
# API it calls is the same in both; run anyway, and doctor's line records the combination.
export INSALUN_CUDNN_ALLOW_OLDER=1
out=${OUT:-$(pwd)/device-out}
mkdir -p "$out" build/Release
cp .device/addon/insalun.node build/Release/insalun.node
# Dependencies (dev ones included, for vitest) travel compressed.
modules=${TMPDIR:-/tmp}/insalun-modules
[ -d "$modules/node_modules" ] || { mkdir -p "$modules" && tar -xJf .device/node_modules.tar.xz -C "$modules"; }
[ -e node_modules ] || ln -s "$modules/node_modules" node_modules

# Seconds left before DEVICE_DEADLINE_S (keep it under the run's timeout_s), less `reserve` for
# the stages after this one, at most `want`.
deadline=${DEVICE_DEADLINE_S:-530}
cap() {
  local want=$1 reserve=$2 left=$((deadline - SECONDS - $2))
  ((left < want)) && want=$left
  ((want < 5)) && want=5
  echo "$want"
}
stage() { echo "== $1 at ${SECONDS} s (limit $2 s)" | tee -a "$out/stages.log"; }

# What the CUDA build finds there (driver, cuDNN and where it came from, GPUs), first.
node bin/insalun.js doctor 2>&1 | tee "$out/doctor.log"

t=$(cap 120 400); stage "vitest CUDA suites" "$t"
timeout "$t" node node_modules/vitest/vitest.mjs run test/native test/bench --reporter=default --reporter=json \
  --outputFile.json="$out/vitest.json" > "$out/vitest.log" 2>&1
echo "vitest exit $?" | tee -a "$out/stages.log"; tail -n 8 "$out/vitest.log"

t=$(cap 270 190); stage "device-check.mjs" "$t"
# Measurement phases that would start in the last minute of its limit are skipped (and reported).
OUT="$out" INSALUN_CHECK_BUDGET_S=$((t - 60)) timeout "$t" node scripts/device-check.mjs 2>&1 | tee "$out/insalun.log"

# The anchor's own torch.compile case (default mode, ~20k img/s) is skipped unless SKIP_COMPILE=0:
# the peer to beat is torch.compile with CUDA graphs, timed next by our script on the anchor's model.
t=$(cap 150 80); stage "torch_anchor.py" "$t"
(cd .device && SKIP_COMPILE=${SKIP_COMPILE:-1} OUT="$out" timeout "$t" python3 torch_anchor.py) 2>&1 | tee "$out/torch.log"
t=$(cap 110 40); stage "torch.compile + CUDA graphs" "$t"
OUT="$out" timeout "$t" python3 scripts/torch_compile_graphs.py ${GRAPHS_BATCHES:-256 512} 2>&1 | tee -a "$out/torch.log"

t=$(cap 120 8); stage "demo on CUDA" "$t"
timeout "$t" node bin/insalun.js demo --device cuda > "$out/demo.log" 2>&1
echo "demo exit $?" | tee -a "$out/stages.log"; tail -n 20 "$out/demo.log"

# Optional: never at the expense of the stages above; each tool a separate run of the op suites.
if command -v compute-sanitizer > /dev/null 2>&1; then
  for tool in memcheck racecheck; do
    t=$(cap 90 5)
    if ((t < 30)); then echo "compute-sanitizer $tool skipped: ${t} s left" | tee -a "$out/stages.log"; continue; fi
    stage "compute-sanitizer $tool" "$t"
    timeout "$t" compute-sanitizer --tool "$tool" --target-processes all --error-exitcode 86 \
      node node_modules/vitest/vitest.mjs run test/native/ops.test.ts test/native/data-and-sgd.test.ts \
      -t "cuda|CUDA" > "$out/sanitizer-$tool.log" 2>&1
    echo "compute-sanitizer $tool exit $? (86: it reported errors)" | tee -a "$out/stages.log"
    grep -E "ERROR SUMMARY|RACECHECK SUMMARY|Tests " "$out/sanitizer-$tool.log" | tail -n 4
  done
else
  echo "compute-sanitizer not on this machine: memcheck and racecheck not run" | tee -a "$out/stages.log"
fi

node scripts/side-by-side.mjs "$out"
