"""What the label page reads and writes in DATA: recordings a slice at a time, segments, classes, saves.

Every write goes through :func:`actline.data.labels.update_dataset` with the version the page
loaded, so a save from a stale page is refused (:class:`StaleVersion`) and overwrites nothing. Saves
and review answers from this server are serialised by one lock; ``update_dataset`` holds the data
set's own lock against other processes.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import numpy as np

from actline.core.errors import ActlineError
from actline.data.coco import read_class_mapping
from actline.data.dataset import Recording
from actline.data.labels import LabelledSegment, dataset_version, update_dataset
from actline.data.recordings.thermal_h5_lazy import LazyRecording

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")  # a frames/<name>.h5 the page may open
STALE = "the data set changed since it was opened"  # update_dataset's message for a stale version
MAX_CACHED = 64  # recordings whose timestamps stay in memory


class StaleVersion(ActlineError):
    """Someone saved the data set after the page read it: the save is refused."""


class LabelStore:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        if not (self.root / "frames").is_dir() or not (self.root / "annotations" / "class_mapping.json").is_file():
            raise ActlineError(self.root, "not a labelled data set (needs frames/ and annotations/class_mapping.json; "
                                          "`actline data import` writes one)")
        self.lock = threading.Lock()
        self._cache: dict[str, tuple[tuple[int, int], LazyRecording]] = {}
        self._segments: tuple[str | None, dict] = (None, {})
        self._cache_lock = threading.Lock()

    # ------------------------------------------------------------------ reading
    def names(self) -> list[str]:
        return sorted(p.stem for p in (self.root / "frames").glob("*.h5") if SAFE_NAME.match(p.stem))

    def recording(self, name: str) -> LazyRecording:
        """The recording ``frames/<name>.h5`` (opened once, again if the file changes)."""
        path = self.root / "frames" / f"{name}.h5"
        if not SAFE_NAME.match(name) or not path.is_file():
            raise KeyError(name)
        st = path.stat()
        key = (st.st_mtime_ns, st.st_size)
        with self._cache_lock:  # requests run in a thread pool
            hit = self._cache.get(name)
        if hit is None or hit[0] != key:
            hit = (key, LazyRecording(path))
            with self._cache_lock:
                while len(self._cache) >= MAX_CACHED:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[name] = hit
        return hit[1]

    def classes(self) -> list[str]:
        return read_class_mapping(self.root / "annotations" / "class_mapping.json")[0]

    def version(self) -> str:
        return dataset_version(self.root)

    def segments(self, version: str) -> dict[str, list[LabelledSegment]]:
        """Every recording's segments: segments.csv, or drawn from the keyframes of a data set without one
        (which reads every recording: hence kept until the version changes)."""
        from actline.data.labels.labelled_store import _existing_segments  # the store's own reading of a data set

        if self._segments[0] != version:
            out: dict[str, list[LabelledSegment]] = {}
            for s in _existing_segments(self.root):
                out.setdefault(s.recording, []).append(s)
            self._segments = (version, out)
        return self._segments[1]

    def state(self) -> tuple[str, list[str], dict[str, list[LabelledSegment]]]:
        """(version, classes, segments) read together, under the lock, so they belong to one version."""
        with self.lock:
            version = self.version()
            return version, self.classes(), self.segments(version)

    # ------------------------------------------------------------------ writing
    def save(self, segments_by_recording: dict[str, list[LabelledSegment]], classes: list[str],
             expected_version: str) -> str:
        """Replace the named recordings' segments, add ``classes``; the new version. Refused when stale."""
        unknown = [r for r in segments_by_recording if r not in self.names()]
        if unknown:
            raise ActlineError(self.root, f"unknown recording {unknown[0]!r}")
        with self.lock:
            return self._update({}, segments_by_recording, classes, expected_version)

    def add_recording(self, rec: Recording, segment: LabelledSegment) -> tuple[str, str]:
        """Add ``rec`` (if not there yet) with ``segment`` as its only segment: (version before, version after)."""
        with self.lock:
            before = self.version()
            return before, self._update({rec.id: rec}, {rec.id: [segment]}, [segment.label], before)

    def _update(self, recordings, segments_by_recording, classes, expected_version) -> str:
        if expected_version != self.version():
            raise StaleVersion(self.root, f"{STALE} (another tab or person saved labels since): nothing was saved; "
                                          "reload to see their labels, then save again")
        try:
            return update_dataset(self.root, recordings, segments_by_recording, classes=classes,
                                  expected_version=expected_version)
        except ActlineError as exc:
            if STALE in exc.message:  # another process saved between our check and its lock
                raise StaleVersion(self.root, exc.message) from None
            raise


def centi_degrees(frames: np.ndarray) -> bytes:
    """Frames as little-endian int16 hundredths of a degree (what the page draws); NaN and inf become -32768,
    which the page shows as a dead pixel, like the sensor's own sentinels (below -100 °C)."""
    x = np.nan_to_num(np.asarray(frames, dtype=np.float32) * 100.0, nan=-32768.0, posinf=-32768.0, neginf=-32768.0)
    return np.clip(np.round(x), -32768, 32767).astype("<i2").tobytes()


def colour_range(rec: LazyRecording) -> tuple[float, float]:
    """A colour scale for the whole recording, from frames spread over it (sentinels left out)."""
    x = rec.sample()
    x = x[np.isfinite(x) & (x > -100.0)]
    if x.size == 0:
        return 15.0, 35.0
    lo, hi = np.percentile(x, [0.5, 99.9])
    return float(np.floor(lo - 0.5)), float(np.ceil(max(hi, lo + 1.0) + 0.5))
