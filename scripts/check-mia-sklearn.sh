#!/usr/bin/env bash
# Reference check, run by hand: insalun's MIA-efficacy (libsvm-js) against scikit-learn's SVC on
# the same random logits. Needs a Python with numpy and scikit-learn; the project itself does not.
#
# usage: PYTHON=python3 scripts/check-mia-sklearn.sh [members] [nonMembers] [targets]
set -euo pipefail
cd "$(dirname "$0")/.."

# Compile only the modules the check needs, inside node_modules so that libsvm-js resolves.
out=node_modules/.cache/insalun-mia-check
npx tsc --outDir "$out" --rootDir src --module nodenext --moduleResolution nodenext --target es2022 \
  --strict --skipLibCheck --esModuleInterop src/metrics/mia.ts

data=$(mktemp --suffix=.json)
trap 'rm -f "$data"' EXIT
node scripts/mia-reference-data.mjs "$out" "$data" "$@"
"${PYTHON:-python3}" scripts/check_mia_sklearn.py "$data"
