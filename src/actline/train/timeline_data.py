"""What a timeline model trains on, whatever the data: feature sequences with a label per step.

Two kinds of data, told apart by the data themselves (:func:`load_timeline_data`):

- a **clip folder** ``root/<fine_label>/*.mp4``: one sequence per clip, every step labelled with the
  clip's coarse family; a stratified part of the clips (by fine label) is held out;
- **annotated recordings** (a thermal data set with frame-wise labels, e.g. Nagoya, or a
  :class:`~actline.data.ClipDataset`): one sequence per recording, each step labelled with the class
  at its chunk's centre frame; a random part of the recordings is held out.

Features come from the backbone through the feature cache (``cache_dir``, else the default
directory), one rule for both kinds. The data are found and checked (:func:`open_source`) before the
backbone is built, so a wrong folder is refused at once, without a download.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from actline.core.errors import ActlineError
from actline.core.progress import Progress
from actline.data import ClipDataset
from actline.data.clips import Clip, find_clips, label_summary
from actline.data.splits import Split, split_json
from actline.data.video import VideoSpec
from actline.features.backbone import Backbone
from actline.features.cache import FeatureCache, default_cache_dir
from actline.features.extract import extract
from actline.train.sequence import Seq

log = logging.getLogger(__name__)


@dataclass
class Source:
    """The data, found and checked before any backbone is built: clips or annotated recordings."""

    kind: str  # "clips" or "recordings"
    root: Path
    clips: list[Clip] = field(default_factory=list)  # clips only
    dataset: ClipDataset | None = None  # recordings only
    ids: list[str] = field(default_factory=list)  # recordings only: the ones to train on (held-out part included)


@dataclass
class TimelineData:
    kind: str  # "clips" or "recordings"
    classes: list[str]  # the coarse classes (stage 1)
    seqs: list[Seq]  # one per clip or recording: features [T, D], coarse class per step (-1: none)
    train: list[int]  # indices into seqs
    held: list[int]  # held out: picks the epoch, gives the figures
    fine: list[str] = field(default_factory=list)  # per clip: its fine label (clips only)
    families: dict[str, list[str]] = field(default_factory=dict)  # coarse class -> its fine labels
    fine_to_value: dict[str, str | None] = field(default_factory=dict)
    labels: dict = field(default_factory=dict)  # the label summary saved with the model
    source: str = ""  # the data's directory (what --resume reads again)
    split: dict = field(default_factory=dict)  # split.json: what trained and what was held out


def open_source(data, cfg, train_ids: list[str] | None = None) -> Source:
    """``data``: a clip folder, a thermal data set directory, or a loaded :class:`~actline.data.ClipDataset`
    (only ``train_ids`` of its recordings). Refuses data a timeline model cannot learn from, by name."""
    from actline.data.formats import detect_format, load_dataset

    if not isinstance(data, ClipDataset) and _is_dataset_dir(Path(data)):
        kw = {"unlabelled": cfg.background_class} if detect_format(data) == "nagoya-csv" else {}
        data = load_dataset(data, **kw)
    if isinstance(data, ClipDataset):
        ids = sorted(train_ids if train_ids is not None else data.recordings)
        if not any(data.recordings[r].frame_labels is not None for r in ids):
            raise ActlineError(data.root, "no recording has frame-wise labels: a timeline model needs annotated "
                                          "recordings (Nagoya-style segments) or a clip folder")
        return Source("recordings", Path(data.root).resolve(), dataset=data, ids=ids)
    clips = find_clips(data, cfg.rule(), log=log.warning)
    coarse = label_summary(clips)["coarse"]
    if len(coarse) < 2:
        raise ActlineError(data, f"need clips of at least two coarse families, found {list(coarse)}")
    return Source("clips", Path(data).resolve(), clips=clips)


def load_timeline_data(src: Source, cfg, backbone: Backbone, progress: Progress | None = None) -> TimelineData:
    """Feature sequences of ``src`` through the feature cache (``cache_dir``, else the default directory)."""
    cache = FeatureCache(cfg.cache_dir or default_cache_dir())
    if src.kind == "recordings":
        return recording_data(src, cfg, backbone, cache, progress)
    return clip_data(src, cfg, backbone, cache, progress)


def _is_dataset_dir(path: Path) -> bool:
    """A thermal data set (ThermalDataGen or Nagoya layout) rather than a clip folder."""
    from actline.data.formats import detect_format

    try:
        detect_format(path)
    except ActlineError:
        return False
    return True


def stratified_holdout(labels: list[str], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices (train, held out): ``fraction`` of each label's clips, at least one where a label has 2+."""
    rng = np.random.default_rng(seed)
    train, held = [], []
    for lab in sorted(set(labels)):
        idx = [i for i, v in enumerate(labels) if v == lab]
        rng.shuffle(idx)
        n = round(len(idx) * fraction) if fraction else 0
        n = min(max(n, 1 if fraction and len(idx) >= 2 else 0), len(idx) - 1)
        held += idx[:n]
        train += idx[n:]
    return sorted(train), sorted(held)


def clip_data(src: Source, cfg, backbone: Backbone, cache: FeatureCache, progress: Progress | None) -> TimelineData:
    """One sequence per clip; a stratified ``val_fraction`` of each fine label's clips is held out."""
    clips, summary = src.clips, label_summary(src.clips)
    feats = []
    for i, c in enumerate(clips, start=1):
        feats.append(cache.get(c.path, backbone, cfg.spec()).x)
        if progress:
            progress("features", i, len(clips))
    log.info("features: %d clips, %d chunks of %d-D (%d from cache, %d computed, %d corrupt entries recomputed)",
             len(clips), sum(len(f) for f in feats), backbone.dim, cache.hits, cache.misses, cache.corrupt)
    coarse = sorted(summary["coarse"])
    fine = [c.label.fine for c in clips]
    tr, ho = stratified_holdout(fine, cfg.val_fraction, cfg.seed)
    seqs = [(f, np.full(len(f), coarse.index(c.label.coarse), np.int64)) for f, c in zip(feats, clips)]
    return TimelineData("clips", coarse, seqs, tr, ho, fine, summary["families"],
                        {c.label.fine: c.label.value_category for c in clips}, summary, str(src.root),
                        clip_split(clips, tr, ho))


def clip_split(clips: list[Clip], train: list[int], held: list[int]) -> dict:
    """``split.json`` of a clip run: each clip (``<fine_label>/<file>``) is a video and a sample; no locations."""
    def rows(idx: list[int]):
        return [(name, None, name) for name in (f"{clips[i].path.parent.name}/{clips[i].path.name}" for i in idx)]

    summary = {"name": "clips-stratified", "n_train": len(train), "n_eval": len(held), "overlapping_eval": 0,
               "shared_recordings": []}
    return split_json(summary, None, rows(train), rows(held))


def recording_data(src: Source, cfg, backbone: Backbone, cache: FeatureCache,
                   progress: Progress | None) -> TimelineData:
    """Whole annotated recordings; a random ``val_fraction`` of them (whole recordings) is held out."""
    if backbone.kind != "thermal":
        raise ActlineError(cfg.backbone, "thermal recordings need a thermal encoder: --backbone path/to/run/model")
    ids, ds = src.ids, src.dataset
    rng = np.random.default_rng(cfg.seed)
    n_val = round(len(ids) * cfg.val_fraction)
    held_ids = set(rng.choice(ids, size=n_val, replace=False).tolist()) if n_val else set()
    seqs = recording_sequences(ds, ids, backbone, cfg.spec(), cache, progress)
    items = [(x, y) for x, y, _ in seqs.values()]
    held = [i for i, r in enumerate(seqs) if r in held_ids]
    train = [i for i, r in enumerate(seqs) if r not in held_ids]
    classes = list(ds.classes)
    side = {r: r in held_ids for r in ids}  # whole recordings: no window is on both sides
    split = Split("recordings-random", [s for s in ds.samples if side.get(s.recording_id) is False],
                  [s for s in ds.samples if side.get(s.recording_id)])
    return TimelineData("recordings", classes, items, train, held, families={c: [c] for c in classes},
                        labels={"classes": classes}, source=str(src.root), split=split.to_json(ds))


def recording_sequences(ds, rec_ids: list[str], backbone: Backbone, spec: VideoSpec, cache: FeatureCache | None = None,
                        progress: Progress | None = None) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per recording: chunk features [T, D], the label at each chunk's centre frame [T] (-1: none), times [T, 2]."""
    out = {}
    for i, rid in enumerate(rec_ids, start=1):
        rec = ds.recordings[rid]
        centres = backbone.window.centres(rec.n_frames, spec.stride)  # the encoder's own windows
        src = Path(rec.source) if rec.source else None
        feats = cache.get(src, backbone, spec) if cache is not None and src is not None and src.is_file() else None
        if feats is None or len(feats) != len(centres):  # the file does not hold these frames as they are: extract
            feats = extract(rec, backbone, spec)
        labels = rec.frame_labels[centres] if rec.frame_labels is not None else np.full(len(centres), -1)
        out[rid] = (feats.x, labels.astype(np.int64), feats.times)
        if progress:
            progress("features", i, len(rec_ids))
    return out
