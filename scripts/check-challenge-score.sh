#!/usr/bin/env bash
# Reference check, run by hand: insalun's NeurIPS 2023 unlearning-challenge score (docs/privacy.md)
# against the challenge's published scorer (google-deepmind/unlearning_evaluation, metric.py) on the
# same random confidence populations. Needs a Python with torch, numpy and safetensors; the project
# itself does not.
#
# usage: INSALUN_TORCH_PYTHON=.../bin/python scripts/check-challenge-score.sh METRIC_PY [examples]
#    or: INSALUN_CHALLENGE_METRIC=.../metric.py INSALUN_TORCH_PYTHON=... scripts/check-challenge-score.sh
set -euo pipefail
metric=${1:-${INSALUN_CHALLENGE_METRIC:-}}
[ -n "$metric" ] || { echo "usage: $0 METRIC_PY [examples] (or set INSALUN_CHALLENGE_METRIC)" >&2; exit 2; }
metric=$(realpath "$metric")
python=${INSALUN_TORCH_PYTHON:-python3}
cd "$(dirname "$0")/.."

out=node_modules/.cache/insalun-challenge-check
npx tsc --outDir "$out" --rootDir src --module nodenext --moduleResolution nodenext --target es2022 \
  --strict --skipLibCheck src/privacy/challenge-score.ts src/privacy/confidence-file.ts src/data/random.ts

data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
node scripts/challenge-score-data.mjs "$out" "$data" "${2:-8}"
"$python" -u scripts/check_challenge_score.py "$metric" "$data"
