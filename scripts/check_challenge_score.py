"""The challenge's own scorer on the files of scripts/check-challenge-score.sh, against insalun's.

usage: python check_challenge_score.py METRIC_PY OUT_DIR
METRIC_PY is metric.py of google-deepmind/unlearning_evaluation, used as it is; for a CPU the
driver maps .cuda() away and, when loading the module's source, reads its final
`assert thr_eps, ...` (ambiguous on a NumPy array of more than one value) as `assert len(thr_eps)`.
"""

import json
import sys
import types
import warnings

import numpy as np
import torch
from safetensors import safe_open

torch.Tensor.cuda = lambda self, *a, **k: self
# metric.py takes logs of zero and negative rates and then discards them; its warnings are noise.
warnings.filterwarnings("ignore", category=RuntimeWarning)


def load_metric(path):
    with open(path) as f:
        source = f.read()
    fixed = source.replace("assert thr_eps,", "assert len(thr_eps),")
    assert fixed != source, "metric.py no longer has the assert this driver expects"
    module = types.ModuleType("metric")
    exec(compile(fixed, path, "exec"), module.__dict__)
    return module


def main():
    metric = load_metric(sys.argv[1])
    out_dir = sys.argv[2]
    with open(f"{out_dir}/insalun.json") as f:
        cases = json.load(f)
    close = total = 0
    worst_f = 0.0
    print(f"{'case':32s} {'F insalun':>10s} {'F metric.py':>12s} {'|dF|':>8s} {'eps within 1e-3':>16s} {'max |deps|':>11s}")
    for case in cases:
        with safe_open(case["file"], framework="numpy") as f:
            unlearned = f.get_tensor("unlearned").astype(np.float64)
            retrained = f.get_tensor("retrained").astype(np.float64)
            ids = json.loads(f.metadata()["unlearned_ids"])
            assert len(ids) == unlearned.shape[0]
        # Per-example epsilons as compute_forget_score_from_confs computes them.
        retrain_is_positive = np.median(retrained, axis=0) > np.median(unlearned, axis=0)
        pos = np.where(retrain_is_positive, retrained, unlearned)
        neg = np.where(retrain_is_positive, unlearned, retrained)
        eps = np.asarray(metric._get_epsilons(pos, neg, delta=metric.DELTA), dtype=np.float64)
        forget = metric.compute_forget_score_from_confs(unlearned, retrained)
        diff = np.abs(eps - np.asarray(case["epsilons"]))
        n_close = int(np.sum(diff <= 1e-3))
        close += n_close
        total += len(eps)
        d_f = abs(forget - case["forget"])
        worst_f = max(worst_f, d_f)
        print(f"{case['name']:32s} {case['forget']:10.4f} {forget:12.4f} {d_f:8.4f} {n_close:>9d} / {len(eps):<4d} {diff.max():11.2e}")
    fraction = close / total
    print(f"examples with |epsilon difference| <= 1e-3: {close} / {total} = {100 * fraction:.2f}% (need >= 99%)")
    print(f"largest |F difference|: {worst_f:.4f} (need <= 0.01)")
    ok = fraction >= 0.99 and worst_f <= 0.01
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
