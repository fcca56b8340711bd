"""``actline evaluate MODEL --data DATA``: score a saved model beside baselines fitted on its own training data.

On a data set the model never saw (its fingerprint differs from the training data's), every sample
is scored. On the model's own training data, only the part its run held out (``split.json``) is
scored, unless another split is asked for. The majority baseline comes from the class counts of the
model's training part and the classical baseline from the run directory (``baselines/classical/``):
neither is ever fitted on the data being scored.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from actline.core.errors import ActlineError
from actline.data import WindowRule, load_dataset
from actline.data.background_class import add_background_class
from actline.data.splits import make_split
from actline.evaluate import baselines as bl
from actline.evaluate.steps import evaluate_with_baselines
from actline.modeldir.reader import load_classifier
from actline.runs.clip_run import CLASSICAL_DIR
from actline.runs.fitting import WindowBank, false_falls, gate_report, majority_recall
from actline.runs.rundir import SPLIT, fingerprint, read_split
from actline.train.config import read_saved


def evaluate_model_dir(model_dir: str | Path, data: str | Path, split_name: str | None = None, device: str = "cpu",
                       threads: int = 0) -> dict:
    """The metrics of the model at ``model_dir`` on ``data`` beside its saved baselines: every sample of
    data it never saw, the held-out part of its own training data, or the evaluation part of ``split_name``;
    the model runs on ``device`` (``auto``: a GPU when there is one) with ``threads`` CPU threads."""
    model_dir = Path(model_dir)
    clf, cfg = load_classifier(model_dir, device=device, threads=threads)
    rule = WindowRule.from_dict(cfg["window"], model_dir / "config.json")
    ds = add_background_class(load_dataset(data), (cfg.get("training") or {}).get("background_class"), rule)
    if ds.classes != cfg["classes"]:
        raise ActlineError(data, f"classes differ from the model's ({len(ds.classes)} vs {len(cfg['classes'])})")
    same_data = fingerprint(ds) == cfg.get("data_fingerprint")
    if split_name:
        tcfg = read_saved(cfg.get("training", {}), str(model_dir))
        tcfg = replace(tcfg, split=split_name)
        samples, what = make_split(ds, tcfg.split, rule, tcfg.fold, tcfg.n_folds, tcfg.seed, tcfg.group_by,
                                   tcfg.holdout).eval, f"the evaluation part of split {split_name!r}"
    elif same_data:
        samples, what = held_out_samples(model_dir, ds, cfg), "the part of its training data that its run held out"
    else:
        samples, what = list(ds.samples), "every sample of a data set the model never saw"
    if not samples:
        raise ActlineError(data, "nothing to evaluate: the model was trained on all of this data (split none)")
    bank, k = WindowBank(ds), len(ds.classes)
    y = ds.labels(samples)
    prob = clf.probs(bank.get(samples, rule), bank.rooms_for(clf, samples))
    counts = np.asarray(cfg.get("train_class_counts") or np.ones(k), dtype=np.int64)
    base = {"majority": bl.majority_probs(np.repeat(np.arange(k), counts), len(y), k),
            "chance": bl.chance_metrics(y, k)}
    classical_dir = model_dir.parent / CLASSICAL_DIR
    if classical_dir.is_dir():
        cl, ccfg = load_classifier(classical_dir)
        base["classical"] = cl.probs(bank.get(samples, WindowRule.from_dict(ccfg["window"], classical_dir)))
    m = evaluate_with_baselines(y, prob, ds.classes, base, extra={
        "evaluated_on": what, "data": str(ds.root), "same_data_as_training": same_data,
        "split": {"name": split_name or ("held-out part" if same_data else "all"), "n_train": int(counts.sum()),
                  "n_eval": len(samples), "warning": None},
        "majority_class": ds.classes[int(counts.argmax())]})
    m["majority_class_recall"] = majority_recall(y, prob, int(counts.argmax()))
    if (falls := false_falls(ds, samples, y, prob, base)) is not None:
        m["false_falls"] = falls
    if (gate := gate_report(clf, bank, samples)) is not None:
        m["room_gate"] = gate
    if not classical_dir.is_dir():
        m["note"] = f"no classical baseline saved with this model ({classical_dir} not found)"
    return m


def held_out_samples(model_dir: Path, ds, cfg: dict) -> list:
    """The samples of ``ds`` that the run which saved ``model_dir`` held out (its ``split.json``)."""
    run = model_dir.parent
    if (run / SPLIT).is_file():
        ids = set(read_split(run)["eval"]["samples"])
        return [s for s in ds.samples if (s.id or f"{s.recording_id}:{s.frame_idx}") in ids]
    held = set((cfg.get("split") or {}).get("eval_recordings") or [])
    return [s for s in ds.samples if s.recording_id in held]
