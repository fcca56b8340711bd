"""Splits that tell the truth: whole recordings (or days) stay on one side unless asked otherwise.

Every split returns a :class:`Split` with the evaluation-window overlap counted, so a protocol in
which evaluation windows share frames with training windows of the same recording is never silent.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from actline.data.dataset import ClipDataset, Sample, WindowSpec
from actline.errors import ActlineError

SPLITS = ("given", "by-recording", "kfold")


@dataclass
class Split:
    name: str
    train: list[Sample]
    eval: list[Sample]
    overlapping_eval: int = 0  # eval samples whose window shares time with a training window
    shared_recordings: list[str] = field(default_factory=list)

    @property
    def warning(self) -> str | None:
        if not self.overlapping_eval:
            return None
        return (f"WARNING: split '{self.name}': {self.overlapping_eval} of {len(self.eval)} evaluation windows overlap "
                f"training windows of the same recording ({len(self.shared_recordings)} recording(s) on both sides); "
                "accuracy on this split measures memory of those recordings, not generalisation to new ones")

    def summary(self) -> dict:
        return {"name": self.name, "n_train": len(self.train), "n_eval": len(self.eval),
                "overlapping_eval": self.overlapping_eval, "shared_recordings": self.shared_recordings}


def count_overlap(ds: ClipDataset, train: list[Sample], evals: list[Sample], spec: WindowSpec) -> tuple[int, list[str]]:
    """Evaluation samples whose window's time span intersects a training window of the same recording."""
    spans = defaultdict(list)
    for s in train:
        spans[s.recording_id].append(ds.span_s(s, spec))
    arrays = {r: np.array(v) for r, v in spans.items()}
    n = 0
    for s in evals:
        a = arrays.get(s.recording_id)
        if a is None:
            continue
        t0, t1 = ds.span_s(s, spec)
        if np.any((a[:, 0] <= t1) & (a[:, 1] >= t0)):
            n += 1
    shared = sorted({s.recording_id for s in evals} & set(arrays))
    return n, shared


def make_split(ds: ClipDataset, name: str = "by-recording", spec: WindowSpec | None = None, fold: int = 0,
               n_folds: int = 5, seed: int = 0, group_by: str = "recording") -> Split:
    """``given``: the data set's own train/val; ``by-recording``: one stratified group fold held out
    (about 1/``n_folds`` of the recordings); ``kfold``: fold ``fold`` of ``n_folds``."""
    spec = spec or WindowSpec()
    if name == "given":
        train, evals = ds.subset("train"), ds.subset("val")
        if not train or not evals:
            raise ActlineError(ds.root, "split 'given' needs a train and a val subset; this data set has "
                               f"{len(train)} train and {len(evals)} val samples (use --split by-recording)")
    elif name in ("by-recording", "kfold"):
        folds = group_folds(ds, n_folds=n_folds, seed=seed, group_by=group_by)
        if not 0 <= fold < len(folds):
            raise ActlineError(ds.root, f"fold {fold} out of range: {len(folds)} folds")
        train_idx, eval_idx = folds[fold]
        train = [ds.samples[i] for i in train_idx]
        evals = [ds.samples[i] for i in eval_idx]
    else:
        raise ActlineError(None, f"unknown split {name!r} (choose from {', '.join(SPLITS)})")
    n, shared = count_overlap(ds, train, evals, spec)
    return Split(name=name if name != "kfold" else f"kfold-{fold}/{n_folds}", train=train, eval=evals,
                 overlapping_eval=n, shared_recordings=shared)


def group_folds(ds: ClipDataset, n_folds: int = 5, seed: int = 0, group_by: str = "recording"):
    """Stratified k-fold over groups (recordings, or ``group_by='group'`` for day/site)."""
    groups = ds.groups(by=group_by)
    n_groups = len(set(groups.tolist()))
    if n_groups < 2:
        raise ActlineError(ds.root, f"a grouped split needs at least 2 {group_by}s, found {n_groups}")
    k = min(n_folds, n_groups)
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    labels = ds.labels()
    import warnings

    with warnings.catch_warnings():  # "least populated class has fewer members than n_splits" is expected
        warnings.simplefilter("ignore", UserWarning)
        return [(tr, ev) for tr, ev in splitter.split(np.zeros(len(labels)), labels, groups)]
