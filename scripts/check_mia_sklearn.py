"""Reference check, run by hand (see check-mia-sklearn.sh); not part of the test suite.

Reads the JSON written by mia-reference-data.mjs, recomputes the five MIA features independently
(Song & Mittal 2021's formulas, logs floored at 1e-30 as in their code), runs SalUn's attack with
scikit-learn's SVC(C=3, gamma='auto', kernel='rbf') and prints it next to insalun's numbers.

usage: python scripts/check_mia_sklearn.py <data.json>
"""

import json
import sys
import time

import numpy as np
from sklearn.svm import SVC


def log_floor(x):
    return np.log(np.maximum(x, 1e-30))


def features(logits, labels, kind):
    z = logits.astype(np.float64)
    z -= z.max(axis=1, keepdims=True)
    probs = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    rows = np.arange(len(labels))
    true_prob = probs[rows, labels]
    if kind == "confidence":
        return true_prob[:, None]
    if kind == "entropy":
        return -(probs * log_floor(probs)).sum(axis=1)[:, None]
    if kind == "modified-entropy":
        terms = -probs * log_floor(1 - probs)  # the i != y terms
        terms[rows, labels] = -(1 - true_prob) * log_floor(true_prob)
        return terms.sum(axis=1)[:, None]
    if kind == "correctness":
        return (probs.argmax(axis=1) == labels).astype(np.float64)[:, None]
    if kind == "probabilities":
        return probs
    raise ValueError(kind)


def load_set(data, name, classes):
    logits = np.asarray(data[name]["logits"], dtype=np.float32).reshape(-1, classes)
    labels = np.asarray(data[name]["labels"], dtype=np.int64)
    return logits, labels


def main(path):
    with open(path) as f:
        data = json.load(f)
    classes = data["classes"]
    sets = {name: load_set(data, name, classes) for name in ("shadowTrain", "shadowTest", "target")}
    print(f"members {len(sets['shadowTrain'][1])}, non-members {len(sets['shadowTest'][1])}, "
          f"targets {len(sets['target'][1])}, {classes} classes")
    print(f"{'kind':<18}{'insalun':>10}{'sklearn':>10}{'max |feature diff|':>20}")
    start = time.perf_counter()
    for kind, ours in data["ourMia"].items():
        x = {name: features(*sets[name], kind) for name in sets}
        if kind in data["ourFeatures"]["target"]:
            diff = max(np.abs(x[name][:, 0] - np.asarray(data["ourFeatures"][name][kind])).max() for name in sets)
            diff_text = f"{diff:.2e}"
        else:
            diff_text = "-"
        # SalUn's SVC_fit_predict: members first, label 1; non-members label 0.
        x_shadow = np.concatenate([x["shadowTrain"], x["shadowTest"]])
        y_shadow = np.concatenate([np.ones(len(x["shadowTrain"])), np.zeros(len(x["shadowTest"]))])
        clf = SVC(C=3, gamma="auto", kernel="rbf").fit(x_shadow, y_shadow)
        theirs = 100 * (1 - clf.predict(x["target"]).mean())
        print(f"{kind:<18}{ours:>10.2f}{theirs:>10.2f}{diff_text:>20}")
    print(f"insalun {data['ourSeconds']:.1f} s, sklearn {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
