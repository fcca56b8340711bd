"""A training run's directory: who may write into it, what it records, and when it is complete.

A run is complete when ``metrics.json`` exists: it is written last. Starting a run where an
unfinished or finished one lies is refused unless the user says which they mean (``--resume`` to
continue an interrupted run from its checkpoints, ``--overwrite`` to start again).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from pathlib import Path

import numpy as np

from actline.core.atomic import write_text
from actline.core.errors import ActlineError
from actline.data import ClipDataset
from actline.data.splits import SPLIT, read_split, write_split

__all__ = ["METRICS", "SPLIT", "RUN_JSON", "CONFIG_YAML", "prepare_run_dir", "fingerprint", "write_predictions",
           "read_split", "write_split", "plain"]

METRICS, RUN_JSON, CONFIG_YAML = "metrics.json", "run.json", "config.yaml"


def prepare_run_dir(out: Path, resume: bool = False, overwrite: bool = False) -> None:
    """Refuse to clobber a run by accident; clear the old one when ``overwrite``."""
    finished = (out / METRICS).is_file()
    started = (out / RUN_JSON).is_file() or (out / "checkpoints").is_dir()
    if resume:
        if finished:
            raise ActlineError(out, "this run has finished (metrics.json exists); there is nothing to resume")
        if not started:
            raise ActlineError(out, "not an actline training run (no run.json): nothing to resume")
        return
    if (finished or started) and not overwrite:
        what = "a finished run" if finished else "an unfinished run"
        raise ActlineError(out, f"holds {what}: use --resume to continue or --overwrite to start again")
    if overwrite and out.is_dir():
        for name in (METRICS, SPLIT, RUN_JSON, "history.json", "predictions.csv", "curves.png", "confusion.png"):
            (out / name).unlink(missing_ok=True)
        for name in ("checkpoints", "model", "baselines"):
            shutil.rmtree(out / name, ignore_errors=True)


def fingerprint(ds: ClipDataset) -> str:
    """Names a data set's content: recordings (length, times, a sum of the frames) and labelled samples."""
    h = hashlib.sha256()
    for rid in sorted(ds.recordings):
        r = ds.recordings[rid]
        h.update(f"{rid}:{r.n_frames}:{r.timestamps[0]:.3f}:{r.timestamps[-1]:.3f}:{float(r.frames.sum()):.3f}".encode())
    for s in ds.samples:
        h.update(f"{s.recording_id}:{s.frame_idx}:{s.label}:{s.subset}".encode())
    return h.hexdigest()[:16]


def write_predictions(path: Path, ds: ClipDataset, samples, prob: np.ndarray, baselines: dict | None = None) -> None:
    """One row per evaluation window: id, recording, frame, true class, predicted class, confidence, and what
    each baseline predicted (``<name>_pred``: majority, classical), so figures pool over folds for them too."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    names = sorted(baselines or {})
    w.writerow(["sample_id", "recording_id", "frame_idx", "true", "pred", "confidence", *(f"{n}_pred" for n in names)])
    for i, (s, p) in enumerate(zip(samples, prob)):
        k = int(p.argmax())
        w.writerow([s.id, s.recording_id, s.frame_idx, ds.classes[s.label], ds.classes[k], f"{p[k]:.4f}",
                    *(ds.classes[int(baselines[n][i])] for n in names)])
    write_text(path, buf.getvalue())


def plain(obj):
    """JSON-safe copy (tuples become lists, anything else its string)."""
    return json.loads(json.dumps(obj, default=lambda o: list(o) if isinstance(o, tuple) else str(o)))
