"""The figures a timeline run reports, on its held-out part only, each beside the majority and chance
baselines: clip accuracy when each held-out clip's steps vote (:func:`~actline.data.segments.vote`,
the rule inference picks fine labels with), or step accuracy on held-out recordings."""

from __future__ import annotations

from collections import Counter

import numpy as np

from actline.data.segments import vote
from actline.models.temporal import predict_sequence
from actline.train.engine import FitResult
from actline.train.timeline_data import TimelineData


def majority_accuracy(train_labels, eval_labels) -> float:
    """Accuracy (%) of always answering the most frequent training label."""
    if not len(eval_labels):
        return float("nan")
    top = Counter(train_labels).most_common(1)[0][0]
    return 100.0 * float(np.mean(np.asarray(eval_labels) == top))


def clip_vote_accuracy(model, seqs) -> tuple[float, np.ndarray]:
    """Clip-level accuracy of the label each clip's steps vote for (:func:`~actline.data.segments.vote`)."""
    preds = np.array([vote(predict_sequence(model, x))[0] for x, _ in seqs])
    truth = np.array([int(y[0]) for _, y in seqs])
    return (100.0 * float((preds == truth).mean()) if len(seqs) else float("nan")), preds


def clip_metrics(td: TimelineData, res1: FitResult, registry: dict, fits2: dict) -> dict:
    """Held-out clips: coarse accuracy (stage 1), fine accuracy of both stages, each beside majority and chance."""
    held = [td.seqs[i] for i in td.held]
    acc1, pred1 = clip_vote_accuracy(res1.model, held)
    best = res1.history[res1.best_epoch - 1] if res1.best_epoch else {}
    stage1 = {"clip_accuracy": acc1, "chained_step_accuracy": best.get("val_step_accuracy") if held else None,
              "majority": majority_accuracy([int(td.seqs[i][1][0]) for i in td.train], [int(y[0]) for _, y in held]),
              "chance": 100.0 / len(td.classes)}
    stage2 = {}
    for fam, (fit, tr, ho) in fits2.items():
        stage2[fam] = {"fine_labels": len(registry[fam]["fine_labels"]), "train_clips": len(tr), "held_out_clips": len(ho),
                       "clip_accuracy": clip_vote_accuracy(fit.model, ho)[0], "best_epoch": fit.best_epoch,
                       "majority": majority_accuracy([int(y[0]) for _, y in tr], [int(y[0]) for _, y in ho])}
    two = []  # a clip is right when both stages are
    for i, p in zip(td.held, pred1):
        entry = registry[td.classes[int(p)]]
        fam_fit = fits2.get(td.classes[int(p)])
        fine = entry["direct"] or entry["fine_labels"][vote(predict_sequence(fam_fit[0].model, td.seqs[i][0]))[0]]
        two.append(fine == td.fine[i])
    n_fine = len({f for fines in td.families.values() for f in fines})
    return {"held_out_clips": len(td.held), "train_clips": len(td.train), "best_epoch_stage1": res1.best_epoch,
            "stage1": stage1, "two_stage_fine_clip_accuracy": 100.0 * float(np.mean(two)) if two else None,
            "fine_majority": majority_accuracy([td.fine[i] for i in td.train], [td.fine[i] for i in td.held]),
            "fine_chance": 100.0 / n_fine, "stage2": stage2,
            "note": "held-out clips are whole files never trained on, but they may come from the same sessions "
                    "as training clips; judge timelines on long held-out videos with `actline timeline` + `score`"}


def recording_metrics(td: TimelineData, res1: FitResult) -> dict:
    best = res1.history[res1.best_epoch - 1] if res1.best_epoch else {}
    return {"train_recordings": len(td.train), "inner_val_recordings": len(td.held), "best_epoch_stage1": res1.best_epoch,
            "inner_val_step_accuracy": best.get("val_step_accuracy") if td.held else None}
