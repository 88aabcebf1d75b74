#!/usr/bin/env bash
# Reference checks against PyTorch (run by hand; needs `npm run build` and a Python with torch and
# safetensors, e.g. PYTHON=path/to/venv/bin/python). Trains a small model on the synthetic set,
# then: (1) its checkpoint loads into PyTorch's CIFAR ResNet-18 and gives the same eval logits;
# (2) a PyTorch state_dict loads into insalun; (3) insalun's grad and IG masks match masks computed
# independently in PyTorch (float64) on the same weights and forget images.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
work=${1:-$(mktemp -d)}
cli="node bin/insalun.js"
[ -f "$work/model/best.safetensors" ] || $cli train --width 8 --epochs 3 --batch-size 64 --synthetic-size 1000 --synthetic-test-size 300 --no-augment --out "$work/model" >/dev/null
node scripts/export-batch.mjs "$work/model/best.safetensors" "$work/test-batch.safetensors" test first:300
(cd scripts && "$python" torch_reference.py interop "$work/model/best.safetensors" "$work/test-batch.safetensors")

"$python" scripts/torch_reference.py save-torch "$work/torch.safetensors" 10 3 8 2>/dev/null || (cd scripts && "$python" torch_reference.py save-torch "$work/torch.safetensors" 10 3 8)
$cli eval --checkpoint "$work/torch.safetensors" --dataset synthetic --json

forget="random:200"
$cli mask --method grad --checkpoint "$work/model/best.safetensors" --forget "$forget" --ratios 0.5 --no-augment --out "$work/masks" >/dev/null
$cli mask --method ig --checkpoint "$work/model/best.safetensors" --forget "$forget" --ratios 0.5 --steps 20 --rule middle --out "$work/masks"
node scripts/export-batch.mjs "$work/model/best.safetensors" "$work/forget-batch.safetensors" train "forget:$forget"
(cd scripts && "$python" torch_reference.py masks "$work/model/best.safetensors" "$work/forget-batch.safetensors" "$work/masks" 20 middle)
