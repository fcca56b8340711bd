"""``actline cv``: grouped k-fold cross-validation in one command, repeated with other seeds if asked.

Every fold is a whole training run (``OUT/r<repeat>/fold<k>/``, the same files as ``actline train``),
grouped by recording or by location (rooms; days for Nagoya: three days and three folds is
leave-one-day-out). ``OUT/cv.json`` holds the per-fold figures of the model and every baseline,
their mean ± sd over folds, the figures pooled over all held-out windows of each repeat (mean ± sd
over repeats), and a per-class table pooled over folds and repeats. The folds run one after another
here, or side by side as tasks on a Ray cluster (``--ray``); a fold retried after its worker died
replaces its own directory.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from actline.core.atomic import write_json
from actline.core.task_map import Job, map_tasks
from actline.data import ClipDataset
from actline.evaluate.steps import headline
from actline.metrics.classification import HEADLINE, per_class, summary_metrics
from actline.metrics.events import false_fall_windows
from actline.runs.clip_run import train_run, training_data
from actline.runs.rundir import CLIP, RunDir
from actline.train.config import LoadedConfig, TrainConfig, unpack

log = logging.getLogger(__name__)


@dataclass
class FoldJob(Job):
    """What every fold shares: the data set (with its background class), the settings, where the runs go."""

    ds: ClipDataset
    cfg: TrainConfig
    given: frozenset
    out: Path
    folds: int
    group_by: str

    def run_dir(self, fold: tuple[int, int]) -> Path:
        return self.out / f"r{fold[0]}" / f"fold{fold[1]}"


def cross_validate(data: str | Path | ClipDataset, out: str | Path, cfg: TrainConfig | LoadedConfig, folds: int = 5,
                   repeats: int = 1, group_by: str = "recording", progress=None, overwrite: bool = False,
                   cluster: str | None = None) -> dict:
    """Train ``folds`` x ``repeats`` runs under ``out`` (grouped by recording or location), write ``cv.json``
    and return it: per-fold figures beside the baselines, mean ± sd over folds, pooled figures, per class.
    The folds run here, one after another, or as tasks on the Ray cluster at ``cluster``."""
    out, (cfg, given) = Path(out), unpack(cfg)
    ds = training_data(data, LoadedConfig(cfg, given))[0]  # its background class, as each fold's run adds it
    job = FoldJob(ds, cfg, given, out, folds, group_by)
    todo = [(r, k) for r in range(repeats) for k in range(folds)]
    for fold in todo:  # every fold's directory is checked before any trains (a fold then replaces its own)
        RunDir(job.run_dir(fold), CLIP).prepare(overwrite=overwrite)
    results = dict(zip(todo, map_tasks(run_fold, todo, job, cluster=cluster, progress=progress, name="folds",
                                       label=lambda f: f"repeat {f[0]} fold {f[1]}", cpus=cfg.num_threads or 1)))
    rows, pooled = [], []
    for r in range(repeats):
        parts = [results[(r, k)][:4] for k in range(folds)]
        rows += [row for row, *_ in parts]
        y, p = np.concatenate([y for _, y, _, _ in parts]), np.concatenate([p for _, _, p, _ in parts])
        b_all = [b for *_, b in parts]
        base = {n: np.concatenate([b[n] for b in b_all]) for n in b_all[0] if all(n in b for b in b_all)}
        pooled.append({"repeat": r, **{key: round(v, 2) for key, v in summary_metrics(y, p).items()}, "n": len(y),
                       "per_class": per_class(y, p, ds.classes),
                       "baselines": {n: {key: round(v, 2) for key, v in summary_metrics(y, bp).items()}
                                     for n, bp in base.items()}})
    result = {"data": str(ds.root), "model": cfg.model, "folds": folds, "repeats": repeats, "group_by": group_by,
              "per_fold": rows, "mean_sd_over_folds": _mean_sd(rows),
              "pooled": {"per_repeat": [{k: v for k, v in p.items() if k != "per_class"} for p in pooled],
                         **_mean_sd([{k: v for k, v in p.items() if k in HEADLINE} for p in pooled], prefix=False),
                         "baselines": {n: _mean_sd([p["baselines"][n] for p in pooled], prefix=False)
                                       for n in pooled[0]["baselines"]}},
              "per_class_pooled": _sum_per_class([p["per_class"] for p in pooled])}
    if (falls := _false_falls(ds, [results[f] for f in todo])) is not None:
        result["false_falls_pooled"] = falls
    write_json(out / "cv.json", result)
    return result


def run_fold(job: FoldJob, fold: tuple[int, int], progress=None) -> tuple[dict, np.ndarray, np.ndarray, dict, np.ndarray]:
    """One fold (repeat ``r``, fold ``k``): its whole training run, replacing whatever an earlier attempt left
    in its directory. Returns its row of figures, and its windows' true, predicted and baseline classes and
    locations."""
    (r, k), cfg = fold, job.cfg
    fcfg = LoadedConfig(replace(cfg, split="kfold", fold=k, n_folds=job.folds, group_by=job.group_by,
                                seed=cfg.seed + r), job.given)
    run = job.run_dir(fold)
    m = train_run(job.ds, run, fcfg, progress=progress, overwrite=True)
    log.info("repeat %d fold %d: top-1 %.1f, macro-F1 %.1f (n=%d)", r, k, m["top1"], m["macro_f1"], m["n"])
    return (_fold_row(r, k, m), *_predictions(run, job.ds))


def _fold_row(r: int, k: int, m: dict) -> dict:
    row = {"repeat": r, "fold": k, "split": m["split"]["name"], **headline(m),
           "majority_class_recall": m.get("majority_class_recall"),
           "classes_held_out": sum(1 for v in m.get("per_class", {}).values() if v.get("support"))}
    for name, b in m.get("baselines", {}).items():
        row.update({f"{name}_{key}": b[key] for key in HEADLINE if key in b})
    return row


def _false_falls(ds: ClipDataset, parts: list[tuple]) -> dict | None:
    """Windows of other classes read as a fall, pooled over every fold and repeat, per location."""
    cat = lambda i: np.concatenate([p[i] for p in parts])  # noqa: E731
    base = {n: np.concatenate([p[3][n] for p in parts]).argmax(1) for n in ("majority", "classical")
            if all(n in p[3] for p in parts)}
    return false_fall_windows(cat(1), cat(2).argmax(1), ds.classes, cat(4), base)


def _predictions(run: Path, ds: ClipDataset) -> tuple[np.ndarray, np.ndarray, dict, np.ndarray]:
    """True and predicted classes of a run's evaluation windows (one-hot predictions), each baseline's, and each
    window's location."""
    with open(run / "predictions.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    idx, k = {c: i for i, c in enumerate(ds.classes)}, len(ds.classes)
    y = np.array([idx[r["true"]] for r in rows], dtype=np.int64)

    def onehot(col: str) -> np.ndarray:
        return np.eye(k)[[idx[r[col]] for r in rows]] if rows else np.zeros((0, k))

    names = [c[:-5] for c in (rows[0] if rows else {}) if c.endswith("_pred") and c != "pred"]
    groups = np.array([ds.recordings[r["recording_id"]].group for r in rows], dtype=object)
    return y, onehot("pred"), {n: onehot(f"{n}_pred") for n in names}, groups


def _mean_sd(rows: list[dict], prefix: bool = True) -> dict:
    keys = [k for k in rows[0] if isinstance(rows[0][k], (int, float)) and k not in ("repeat", "fold", "n",
                                                                                       "classes_held_out")]
    out = {}
    for k in keys:
        vals = np.array([r[k] for r in rows if r.get(k) is not None], dtype=float)
        vals = vals[np.isfinite(vals)]
        if len(vals):
            out[k] = {"mean": round(float(vals.mean()), 2), "sd": round(float(vals.std(ddof=1)) if len(vals) > 1 else 0.0, 2)}
    return out


def _sum_per_class(tables: list[dict]) -> dict:
    """Recall and precision from counts summed over repeats (support counts each repeat's windows)."""
    out = {}
    for c in tables[0]:
        tp = sum(t[c]["recall"] * t[c]["support"] / 100 for t in tables)
        support = sum(t[c]["support"] for t in tables)
        predicted = sum(t[c]["predicted"] for t in tables)
        rec = 100 * tp / support if support else 0.0
        prec = 100 * tp / predicted if predicted else 0.0
        out[c] = {"recall": round(rec, 2), "precision": round(prec, 2),
                  "f1": round(2 * rec * prec / (rec + prec), 2) if rec + prec else 0.0,
                  "support": support, "predicted": predicted}
    return out
