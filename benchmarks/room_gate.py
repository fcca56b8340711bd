"""The lead for new rooms (issue #11), on tuning data only: fall back on the trees when the room is unfamiliar.

Run: .venv/bin/python benchmarks/room_gate.py --out runs/guard [--seeds 100 ... 114] [--split by-recording by-location]
     [--thresholds 0.3 0.4 0.5 0.6] [--threads 1]

Uses the runs of ``benchmarks/rare_class_guard.py`` under the same --out (trained there if missing): the
default CNN (guard, prior and gate off) and, in each run's ``baselines/classical``, the trees on window
statistics with their own background (``recording-median``). A held-out recording is *unfamiliar* when its
room fingerprint (``actline.modeldir.parts.room_gate.room_fingerprint``) has cosine similarity below the threshold
to every training recording's. Compared, all with the rare-class guard at 60 applied last: the CNN alone,
the trees alone, their fusion everywhere (``fuse_probs``: geometric mean, equal weights), and the gate (the
fusion on unfamiliar recordings, the CNN elsewhere), which is what ``RoomGate`` does; this script chose its
threshold (0.3), since shipped as the default ``room_gate``.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np
import torch
from rare_class_guard import held_out, probs_on
from realistic_accuracy import RARE, data_set, one_run

from actline.data.rooms import room_fingerprint
from actline.metrics.classification import summary_metrics
from actline.modeldir.parts.class_guard import RareClassGuard
from actline.modeldir.reader import load_classifier
from actline.models.contract import fuse_probs

GUARD = 60


def run_parts(run: Path) -> dict:
    """Labels, CNN and tree probabilities, training counts and room similarity of a run's held-out windows."""
    cnn, cfg, ds, samples = held_out(run)
    trees, trees_cfg = load_classifier(run / "baselines" / "classical")
    train = json.loads((run / "split.json").read_text())["train"]["recordings"]
    held = {s.recording_id for s in samples}
    fp = {r: room_fingerprint(ds.recordings[r].empty_room()) for r in held | set(train)}
    sim = {r: max(float(fp[r] @ fp[t]) for t in train) for r in held}
    return {"y": ds.labels(samples), "cnn": probs_on(cnn, cfg, ds, samples), "trees": probs_on(trees, trees_cfg, ds, samples),
            "counts": np.asarray(cfg["train_class_counts"]), "sim": np.array([sim[s.recording_id] for s in samples])}


def candidates(d: dict, thresholds: list[float]) -> dict:
    # the package's own late fusion (equal weights), on probabilities already computed
    both = fuse_probs([d["cnn"], d["trees"]], [0.5, 0.5])
    out = {"CNN alone (default)": d["cnn"], "trees alone": d["trees"], "fusion everywhere": both}
    for t in thresholds:
        out[f"gate: fusion below {t:g}"] = np.where((d["sim"] < t)[:, None], both, d["cnn"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=list(range(100, 115)))
    ap.add_argument("--split", nargs="+", default=["by-recording", "by-location"])
    ap.add_argument("--thresholds", type=float, nargs="+", default=[0.3, 0.4, 0.5, 0.6])
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print("| held out | predictions | top-1 | mean class acc | macro-F1 | majority recall | rare-class share |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for split in a.split:
        rows: dict[str, list] = {}
        for seed in a.seeds:
            run = a.out / split / f"seed{seed}"
            one_run(data_set(a.out, seed), run, split, 0, a.threads, ["rare_class_min=0", "prior_power=0", "room_gate.threshold=0"])
            d = run_parts(run)
            factors = np.asarray(RareClassGuard.factors_for(d["counts"], GUARD))
            maj = int(d["counts"].argmax())
            for name, p in candidates(d, a.thresholds).items():
                p = p * factors
                pred = (p / p.sum(axis=1, keepdims=True)).argmax(axis=1)
                m = summary_metrics(d["y"], p / p.sum(axis=1, keepdims=True))
                rare = max([0.0] + [100 * float(np.mean(pred == c)) for c in np.flatnonzero(d["counts"] < RARE)])
                rows.setdefault(name, []).append((m["top1"], m["mean_class_accuracy"], m["macro_f1"],
                                                  int(np.sum((pred == maj) & (d["y"] == maj))), int(np.sum(d["y"] == maj)), rare))
        for name, v in rows.items():
            mean = [statistics.mean(x[i] for x in v) for i in range(3)]
            hit, tot = sum(x[3] for x in v), sum(x[4] for x in v)
            print(f"| {split} | {name} | {mean[0]:.1f} | {mean[1]:.1f} | {mean[2]:.1f} | {100 * hit / max(tot, 1):.1f} "
                  f"| {max(x[5] for x in v):.1f} |")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
