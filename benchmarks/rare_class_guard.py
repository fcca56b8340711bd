"""How the rare-class guard's threshold (``rare_class_min``) and the decision prior (``prior_power``) were
chosen for issue #11, on tuning data only.

Run: .venv/bin/python benchmarks/rare_class_guard.py --out runs/guard [--threads 1] [--seeds 100 ... 108]
     [--split by-recording by-location] [--candidates 0 10 20 40 60] [--priors 0 0.25 0.5 0.75 1 1.5]

The default recipe is trained with guard, prior and room gate off on realistic-preset tuning sets (seeds 100 and above:
never reporting data), fold 0 of each split, training seed 0; each candidate guard is then applied to the
saved model's probabilities on the held-out part, with each candidate prior power (both act after
training, so one training serves every candidate). Printed per split and candidate: top-1, mean class accuracy and macro-F1 (mean over the
sets), the training majority class's recall pooled over the sets, and the largest share of held-out
predictions taken by a class with fewer than 10 training windows (worst set). Finished runs are reused.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np
import torch
from realistic_accuracy import RARE, data_set, one_run

from actline.data import WindowRule, load_dataset
from actline.metrics.classification import summary_metrics
from actline.modeldir.parts.class_guard import RareClassGuard
from actline.modeldir.reader import load_classifier
from actline.runs.evaluate_model import held_out_samples
from actline.runs.fitting import WindowBank


def held_out(run: Path):
    """(classifier, config, data set, held-out samples) of a run: its model and the windows it never trained on."""
    clf, cfg = load_classifier(run / "model")
    ds = load_dataset(json.loads((run / "run.json").read_text())["data"])
    return clf, cfg, ds, held_out_samples(run / "model", ds, cfg)


def probs_on(clf, cfg: dict, ds, samples) -> np.ndarray:
    """``clf``'s probabilities on ``samples``, cut and background-subtracted as its config says."""
    w = cfg["window"]
    return clf.probs(WindowBank(ds).get(samples, WindowRule.from_dict(w)))


def held_out_probs(run: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, probabilities, training class counts) of the run's held-out windows, as its model gives them."""
    clf, cfg, ds, samples = held_out(run)
    return ds.labels(samples), probs_on(clf, cfg, ds, samples), np.asarray(cfg["train_class_counts"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=list(range(100, 109)))
    ap.add_argument("--split", nargs="+", default=["by-recording", "by-location"])
    ap.add_argument("--candidates", type=int, nargs="+", default=[0, 10, 20, 40, 60])
    ap.add_argument("--priors", type=float, nargs="+", default=[0.0])
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print("| `rare_class_min` | `prior_power` | held out | top-1 | mean class acc | macro-F1 | majority recall "
          "| rare-class share |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|")
    for split in a.split:
        sets = []
        for seed in a.seeds:
            data = data_set(a.out, seed)
            run = a.out / split / f"seed{seed}"
            one_run(data, run, split, 0, a.threads, ["rare_class_min=0", "prior_power=0", "room_gate.threshold=0"])
            sets.append(held_out_probs(run))
        for mn, power in ((mn, power) for mn in a.candidates for power in a.priors):
            rows, hit, tot, rare = [], 0, 0, 0.0
            for y, prob, counts in sets:
                p = RareClassGuard(FixedProbs(prob), RareClassGuard.factors_for(counts, mn, power)).probs(None)
                rows.append(summary_metrics(y, p))
                pred, maj = p.argmax(1), int(counts.argmax())
                hit, tot = hit + int(np.sum((pred == maj) & (y == maj))), tot + int(np.sum(y == maj))
                rare = max([rare] + [100 * float(np.mean(pred == c)) for c in np.flatnonzero(counts < RARE)])
            mean = {k: statistics.mean(r[k] for r in rows) for k in ("top1", "mean_class_accuracy", "macro_f1")}
            print(f"| {mn} | {power:g} | {split} | {mean['top1']:.1f} | {mean['mean_class_accuracy']:.1f} | {mean['macro_f1']:.1f} "
                  f"| {100 * hit / max(tot, 1):.1f} ({hit}/{tot}) | {rare:.1f} |")


class FixedProbs:
    """Probabilities already computed, in the classifier contract's shape, for RareClassGuard to wrap."""

    def __init__(self, prob: np.ndarray):
        self.prob, self.num_classes, self.feature_dim = prob, prob.shape[1], 0

    def probs(self, windows, rooms=None) -> np.ndarray:
        return self.prob


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
