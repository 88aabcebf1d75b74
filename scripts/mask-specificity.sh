#!/usr/bin/env bash
# Forget specificity of the masks (docs/method.md 4d), run by hand: from one trained checkpoint, the
# masks of two forget sets for SalUn's gradient and each IG baseline and target, then one table of
# the Jaccard overlap per ratio and the batch-norm and linear shares of the saliency.
#
# usage: scripts/mask-specificity.sh CHECKPOINT OUT [FORGET] [STEPS]
#   FORGET: the forget spec (default random:10%); the two sets are its draws with forget seeds 1 and 2.
#   STEPS: IG path points (default 8). INSALUN: the command to run (default: node bin/insalun.js,
#   which needs npm run build).
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 CHECKPOINT OUT [FORGET] [STEPS]" >&2; exit 2; }
checkpoint=$1 out=$2 forget=${3:-random:10%} steps=${4:-8}
here=$(cd "$(dirname "$0")" && pwd)
insalun=${INSALUN:-node $here/../bin/insalun.js}
common=(--checkpoint "$checkpoint" --forget "$forget" --forget-seed 1 --second-forget-seed 2
  --ratios 0.3,0.5 --batch-size 128 --device cpu)
ig=(--method ig --rule middle --steps "$steps")
run() {
  local name=$1
  shift
  echo "== $name" >&2
  $insalun mask "${common[@]}" --out "$out/$name" "$@" >&2
}
run grad --method grad --no-augment
run ig-zero "${ig[@]}" --baseline zero
run ig-init "${ig[@]}" --baseline init
run ig-scale0.9 "${ig[@]}" --baseline scale:0.9
run ig-scale0.99 "${ig[@]}" --baseline scale:0.99
run ig-retain-ft "${ig[@]}" --baseline retain-ft:20:0.01
run ig-zero-contrastive "${ig[@]}" --baseline zero --ig-target contrastive --lambda 1
run ig-zero-retain-normalized "${ig[@]}" --baseline zero --ig-target retain-normalized --floor 0.1
run ig-scale0.99-contrastive "${ig[@]}" --baseline scale:0.99 --ig-target contrastive --lambda 1
run ig-retain-ft-contrastive "${ig[@]}" --baseline retain-ft:20:0.01 --ig-target contrastive --lambda 1
node "$here/mask-specificity-table.mjs" "$out"
