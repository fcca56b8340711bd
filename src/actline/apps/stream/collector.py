"""Windows worth relabelling, added to a review queue (:mod:`actline.data.labels.review_queue`).

Windows the model is unsure about (top probability below ``collect_below``: source ``uncertain``),
or whose prediction the stream's settled state contradicts a few runs later (source ``collect``),
become review items: the window's frames as the sensor sent them (°C, the sensor's clock), the
model's top 3 and its checksum. ``actline label --data DATA --review DIR`` shows them; an answer
becomes a labelled segment of DATA. Each item names its own classes, so one folder may collect from
several models.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from actline.core.errors import ActlineError

log = logging.getLogger(__name__)


class FailureCollector:
    """Adds at most ``max_items`` items to the queue at ``root`` (counting those already there). ``clock`` is
    added to the times the stream sees to give the sensor's clock (a replay's times start at 0)."""

    def __init__(self, root: str | Path, classes: list[str], max_items: int = 1000, clock: float = 0.0):
        self.root, self.classes, self.max_items, self.clock = Path(root), list(classes), max_items, clock
        self.existing = len(list(self.root.glob("*.json"))) if self.root.is_dir() else 0
        self.added: list[str] = []

    def add(self, frames: np.ndarray, times, probs, reason: str, *, recording: str | None = None,
            t0: float | None = None, model: str | None = None) -> str | None:
        """One window: ``frames`` [N, H, W] °C and ``times`` [N] s as the stream sees them; ``t0`` the first frame's
        time of the recording or stream, so the item's ``start_s``/``end_s`` count from it. Returns the item id."""
        from actline.data.labels.review_queue import add_item, top3_of

        if self.existing + len(self.added) >= self.max_items:
            return None
        ts = np.asarray(times, dtype=np.float64)
        start = float(ts[0] - (ts[0] if t0 is None else t0))
        name = re.sub(r"[^A-Za-z0-9._-]", "-", recording or "stream").lstrip("._-")[:100] or "stream"
        try:
            item_id = add_item(self.root, frames, ts + self.clock, recording=name, start_s=start,
                               end_s=start + float(ts[-1] - ts[0]), top3=top3_of(probs, self.classes), model=model,
                               source="uncertain" if reason == "low_confidence" else "collect")
        except (ActlineError, OSError) as exc:  # a full disk must not stop a live stream
            log.warning("%s: window of %s not collected: %s", self.root, name, exc)
            return None
        self.added.append(item_id)
        return item_id

    def __len__(self) -> int:
        return len(self.added)
