"""The windows of a recording the model is least sure about, added to a review queue for a person to answer."""

from __future__ import annotations

from pathlib import Path

from actline.data.dataset import Recording
from actline.data.labels.review_queue import add_item, top3_of
from actline.infer.stream_config import model_version


def queue_uncertain(recognizer, rec: Recording, preds: list, directory: str | Path, count: int = 10,
                    data: str | Path | None = None) -> list[str]:
    """Add the ``count`` windows of ``preds`` (``Recognizer.predict_recording``'s output) with the lowest top
    probability as items of source ``uncertain``: the frames the window covers, as recorded. Returns the ids."""
    ranked = sorted(preds, key=lambda pred: pred[2].confidence)[:max(count, 0)]
    t0, checksum, ids = float(rec.timestamps[0]), model_version(recognizer.config, None), []
    for centre, _, pred in sorted(ranked, key=lambda pred: pred[0]):
        idx = recognizer.rule.indices(rec.timestamps, centre)
        lo, hi = int(idx.min()), int(idx.max()) + 1
        ts = rec.timestamps[lo:hi]
        ids.append(add_item(directory, rec.frames[lo:hi], ts, recording=rec.id, start_s=float(ts[0]) - t0,
                            end_s=float(ts[-1]) - t0, top3=top3_of(pred.probs, recognizer.classes), model=checksum,
                            source="uncertain", data=data))
    return ids
