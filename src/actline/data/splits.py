"""Splits that tell the truth: whole recordings, rooms or days stay on one side unless asked otherwise.

- ``given``: the data set's own train/val subsets (the earlier system's random keyframe split);
- ``by-recording`` / ``by-location``: one stratified group fold held out, grouping by recording
  or by location (a room: the sensor id up to its first underscore; a day for Nagoya);
- ``kfold``: fold ``fold`` of a stratified group k-fold (``group_by`` recording or location);
- ``holdout``: the named recordings, locations or days held out (``--holdout SL14,SL20``);
- ``none``: everything trains, nothing is held out (the model you deploy; no held-out figure).

Every split counts evaluation windows whose time span overlaps a training window of the same
recording, so a protocol that measures memory of the recordings is never silent. ``inner_split``
carves model-selection data out of the training part the same honest way. ``split.json``
(:func:`write_split`, :func:`read_split`) records which recordings and samples were on each side.
"""

from __future__ import annotations

import json
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.model_selection import GroupShuffleSplit, StratifiedGroupKFold

from actline.core.atomic import write_json
from actline.core.errors import ActlineError
from actline.data.dataset import ClipDataset, Sample
from actline.data.window import WindowRule

SPLITS = ("given", "by-recording", "by-location", "kfold", "holdout", "none")
GROUPINGS = ("recording", "location")
SPLIT = "split.json"  # in a run directory (classifier runs) or a timeline model directory
SplitRow = tuple[str, str | None, str]  # (recording or video, its location if it has one, sample id)


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

    def to_json(self, ds: ClipDataset) -> dict:
        """What ``split.json`` records: the recordings and the sample ids on each side."""
        def rows(samples: list[Sample]) -> list[SplitRow]:
            return [(s.recording_id, ds.recordings[s.recording_id].group, s.id or f"{s.recording_id}:{s.frame_idx}")
                    for s in samples]

        return split_json(self.summary(), self.warning, rows(self.train), rows(self.eval))


def split_json(summary: dict, warning: str | None, train: list[SplitRow], evals: list[SplitRow]) -> dict:
    """``split.json``: the summary, the warning, and per side the recordings, locations and sample ids."""
    def side(rows: list[SplitRow]) -> dict:
        return {"recordings": sorted({r for r, _, _ in rows}), "locations": sorted({g for _, g, _ in rows if g is not None}),
                "samples": [sid for _, _, sid in rows]}

    return {**summary, "warning": warning, "train": side(train), "eval": side(evals)}


def write_split(run: Path, split: dict) -> None:
    write_json(run / SPLIT, split)


def read_split(run: Path) -> dict:
    """``split.json`` of a run (which recordings and samples were held out)."""
    try:
        return json.loads((run / SPLIT).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ActlineError(run, f"no {SPLIT}: not a training run, or one made by an older actline") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ActlineError(run / SPLIT, f"unreadable ({exc})") from None


def count_overlap(ds: ClipDataset, train: list[Sample], evals: list[Sample], spec: WindowRule) -> tuple[int, list[str]]:
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


def make_split(ds: ClipDataset, name: str = "by-recording", spec: WindowRule | None = None, fold: int = 0,
               n_folds: int = 5, seed: int = 0, group_by: str = "recording", holdout: list[str] | None = None) -> Split:
    spec = spec or WindowRule()
    if name == "given":
        train, evals = ds.subset("train"), ds.subset("val")
        if not train or not evals:
            raise ActlineError(ds.root, "split 'given' needs a train and a val subset; this data set has "
                               f"{len(train)} train and {len(evals)} val samples (use --split by-recording)")
    elif name in ("by-recording", "by-location", "kfold"):
        by = {"by-recording": "recording", "by-location": "location"}.get(name, group_by)
        folds = group_folds(ds, n_folds=n_folds, seed=seed, group_by=by)
        if not 0 <= fold < len(folds):
            raise ActlineError(ds.root, f"fold {fold} out of range: {len(folds)} folds")
        train_idx, eval_idx = folds[fold]
        train, evals = [ds.samples[i] for i in train_idx], [ds.samples[i] for i in eval_idx]
        name = name if name != "kfold" else f"kfold-{fold}/{len(folds)}"
    elif name == "holdout":
        train, evals = holdout_split(ds, holdout or [])
        name = f"holdout:{','.join(holdout or [])}"
    elif name == "none":
        train, evals = list(ds.samples), []
    else:
        raise ActlineError(None, f"unknown split {name!r} (choose from {', '.join(SPLITS)})")
    n, shared = count_overlap(ds, train, evals, spec)
    return Split(name=name, train=train, eval=evals, overlapping_eval=n, shared_recordings=shared)


def holdout_split(ds: ClipDataset, names: list[str]) -> tuple[list[Sample], list[Sample]]:
    """Hold out every sample whose recording id, location or day is in ``names``; unknown names are errors."""
    recs = ds.recordings.values()
    known = {r.id for r in recs} | {r.group for r in recs}
    unknown = sorted(set(names) - known)
    if not names or unknown:
        groups = sorted({r.group for r in recs})
        raise ActlineError("--holdout", f"unknown recording or location {unknown or names} (locations: "
                           f"{', '.join(groups[:12])}{' ...' if len(groups) > 12 else ''})")
    held = {r.id for r in recs if r.id in names or r.group in names}
    train = [s for s in ds.samples if s.recording_id not in held]
    evals = [s for s in ds.samples if s.recording_id in held]
    if not train:
        raise ActlineError("--holdout", "nothing left to train on")
    return train, evals


def group_folds(ds: ClipDataset, n_folds: int = 5, seed: int = 0, group_by: str = "recording"):
    """Stratified k-fold over groups (recordings, or locations: rooms, Nagoya days)."""
    groups = ds.groups(by=group_by)
    n_groups = len(set(groups.tolist()))
    if n_groups < 2:
        raise ActlineError(ds.root, f"a grouped split needs at least 2 {group_by}s, found {n_groups}")
    splitter = StratifiedGroupKFold(n_splits=min(n_folds, n_groups), shuffle=True, random_state=seed)
    labels = ds.labels()
    with warnings.catch_warnings():  # "least populated class has fewer members than n_splits" is expected
        warnings.simplefilter("ignore", UserWarning)
        return [(tr, ev) for tr, ev in splitter.split(np.zeros(len(labels)), labels, groups)]


def inner_split(ds: ClipDataset, train: list[Sample], spec: WindowRule, fraction: float, seed: int,
                group_by: str = "recording") -> tuple[list[Sample], list[Sample]]:
    """Hold out a ``fraction`` of the training part for model selection, never leaking into it.

    With three or more groups, whole groups are held out. Otherwise (e.g. the ``given`` split, where
    every recording is on both sides), blocks of time are held out in every recording and training
    keeps only samples whose windows do not overlap any held-out window (purged by one window).
    """
    if fraction <= 0 or len(train) < 4:
        return list(train), []
    groups = ds.groups(train, by=group_by)
    if len(set(groups.tolist())) >= 3:
        tr, va = next(GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
                      .split(np.zeros(len(train)), groups=groups))
        return [train[i] for i in tr], [train[i] for i in va]
    rng = np.random.default_rng(seed)
    val = []
    for rid in sorted({s.recording_id for s in train}):
        mine = sorted((s for s in train if s.recording_id == rid), key=lambda s: s.frame_idx)
        blocks = np.array_split(np.arange(len(mine)), max(1, round(1 / fraction)) * 2)
        for b in rng.choice(len(blocks), size=max(1, len(blocks) // round(1 / fraction)), replace=False):
            val += [mine[i] for i in blocks[b]]
    val_ids = {id(s) for s in val}
    rest = [s for s in train if id(s) not in val_ids]
    spans = defaultdict(list)
    for s in val:
        spans[s.recording_id].append(ds.span_s(s, spec))
    keep = [s for s in rest if not any(a <= ds.span_s(s, spec)[1] and b >= ds.span_s(s, spec)[0]
                                       for a, b in spans[s.recording_id])]
    return keep, val
