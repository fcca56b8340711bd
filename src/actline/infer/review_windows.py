"""The windows of a recording the model is least sure about, added to a review queue for a person to answer.

Choosing them (:func:`uncertain_windows`) and adding them (:func:`add_windows`) are apart: a prediction
run on many recordings chooses in each task and adds once, in the process that started the run, so a
task run twice (a Ray task retried after its worker died) never adds an item twice.
"""

from __future__ import annotations

from pathlib import Path

from actline.data.dataset import Recording
from actline.data.labels.review_queue import add_item, top3_of
from actline.infer.stream_config import model_version


def uncertain_windows(recognizer, rec: Recording, preds: list, count: int = 10) -> list[dict]:
    """The ``count`` windows of ``preds`` (``Recognizer.predict_recording``'s output) with the lowest top
    probability, in time order, as review items of source ``uncertain``: the frames each window covers, as
    recorded, and what :func:`~actline.data.labels.review_queue.add_item` needs beside them."""
    ranked = sorted(preds, key=lambda pred: pred[2].confidence)[:max(count, 0)]
    t0, checksum, items = float(rec.timestamps[0]), model_version(recognizer.config, None), []
    for centre, _, pred in sorted(ranked, key=lambda pred: pred[0]):
        idx = recognizer.rule.indices(rec.timestamps, centre)
        lo, hi = int(idx.min()), int(idx.max()) + 1
        ts = rec.timestamps[lo:hi]
        items.append({"frames": rec.frames[lo:hi], "timestamps": ts, "recording": rec.id,
                      "start_s": float(ts[0]) - t0, "end_s": float(ts[-1]) - t0,
                      "top3": top3_of(pred.probs, recognizer.classes), "model": checksum, "source": "uncertain"})
    return items


def add_windows(directory: str | Path, windows: list[dict], data: str | Path | None = None) -> list[str]:
    """Add :func:`uncertain_windows`' items to the review queue folder ``directory``; returns their ids."""
    return [add_item(directory, **w, data=data) for w in windows]


def queue_uncertain(recognizer, rec: Recording, preds: list, directory: str | Path, count: int = 10,
                    data: str | Path | None = None) -> list[str]:
    """Choose the ``count`` least certain windows of ``preds`` and add them to the review queue; returns the ids."""
    return add_windows(directory, uncertain_windows(recognizer, rec, preds, count), data)
