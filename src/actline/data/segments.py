"""Timelines: ordered segments, and the file formats they travel in.

Formats read and written (SRT subtitles are written only):
- JSON: ``{"segments": [{"start_s", "end_s", "label", "fine"?, "value_category"?, "confidence"?}, ...]}``
  (a bare list of such objects is read too);
- CSV: header ``start_s,end_s,label`` (optionally ``fine,value_category,confidence``; a ``coarse``
  column is read as ``label``);
- frame-wise text (MS-TCN): one label per line, one line per frame.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from actline.core.atomic import write_text
from actline.core.errors import ActlineError


@dataclass
class Segment:
    start_s: float
    end_s: float
    label: str
    fine: str | None = None
    value_category: str | None = None
    confidence: float | None = None


def _check(segs: list[Segment], where) -> list[Segment]:
    prev_end = -np.inf
    for i, s in enumerate(segs):
        if not (np.isfinite(s.start_s) and np.isfinite(s.end_s)) or s.end_s < s.start_s:
            raise ActlineError(where, f"segment {i + 1}: end ({s.end_s}) before start ({s.start_s}) or not a number")
        if s.start_s < prev_end - 1e-6:
            raise ActlineError(where, f"segment {i + 1} starts at {s.start_s} s, before the previous one ends ({prev_end} s)")
        prev_end = s.end_s
    return segs


def read_segments(path: str | Path) -> list[Segment]:
    path = Path(path)
    if not path.is_file():
        raise ActlineError(path, "file not found")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ActlineError(path, f"not valid JSON ({exc})") from None
        items = obj.get("segments") if isinstance(obj, dict) else obj
        if not isinstance(items, list):
            raise ActlineError(path, "expected a list of segments or {\"segments\": [...]}")
        segs = []
        for i, it in enumerate(items):
            try:
                segs.append(Segment(float(it["start_s"]), float(it["end_s"]), str(it.get("label", it.get("coarse"))),
                                    it.get("fine"), it.get("value_category"), it.get("confidence")))
            except (KeyError, TypeError, ValueError):
                raise ActlineError(path, f"segment {i + 1} needs numeric start_s and end_s and a label") from None
        return _check(segs, path)
    if path.suffix.lower() == ".csv":
        try:
            rows = list(csv.DictReader(io.StringIO(text)))
        except csv.Error as exc:
            raise ActlineError(path, f"malformed CSV ({exc})") from None
        segs = []
        for n, row in enumerate(rows, start=2):
            label = row.get("label") or row.get("coarse")
            try:
                segs.append(Segment(float(row["start_s"]), float(row["end_s"]), str(label), row.get("fine") or None,
                                    row.get("value_category") or None,
                                    float(row["confidence"]) if row.get("confidence") else None))
            except (KeyError, TypeError, ValueError):
                raise ActlineError(path, f"line {n}: expected start_s,end_s,label with numeric times") from None
            if label is None:
                raise ActlineError(path, f"line {n}: no label (column 'label' or 'coarse')")
        return _check(segs, path)
    raise ActlineError(path, "unknown timeline format (use .json or .csv segments, or .txt frame-wise labels)")


def read_frame_labels(path: str | Path) -> np.ndarray:
    path = Path(path)
    if not path.is_file():
        raise ActlineError(path, "file not found")
    labels = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if not labels:
        raise ActlineError(path, "no frame labels (empty file)")
    return np.array(labels)


def segments_to_frames(segs: list[Segment], fps: float, n_frames: int | None = None, fill: str = "background") -> np.ndarray:
    """Frame-wise labels at ``fps``: frame i covers the instant i / fps; uncovered instants get ``fill``."""
    if n_frames is None:
        n_frames = int(round(max((s.end_s for s in segs), default=0.0) * fps))
    out = np.full(n_frames, fill, dtype=object)
    t = np.arange(n_frames) / fps
    for s in segs:
        out[(t >= s.start_s) & (t < s.end_s)] = s.label
    return out.astype(str)


def frames_to_segments(labels, fps: float) -> list[Segment]:
    y = np.asarray(labels)
    if len(y) == 0:
        return []
    change = np.flatnonzero(y[1:] != y[:-1]) + 1
    starts, ends = np.r_[0, change], np.r_[change, len(y)]
    return [Segment(float(s / fps), float(e / fps), str(y[s])) for s, e in zip(starts, ends)]


def load_labels(path: str | Path, fps: float, n_frames: int | None = None, level: str = "label") -> np.ndarray:
    """Frame-wise labels from any supported file (segments are sampled at ``fps``).

    ``level="fine"`` reads the fine label of segment files (falling back to the label where a
    segment has none); frame-wise text has one level only.
    """
    path = Path(path)
    if path.suffix.lower() == ".txt":
        return read_frame_labels(path)
    segs = read_segments(path)
    if level == "fine":
        segs = [Segment(s.start_s, s.end_s, s.fine or s.label) for s in segs]
    return segments_to_frames(segs, fps, n_frames)


def _srt_time(t: float) -> str:
    ms = int(round(t * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    sec, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{sec:02d},{ms:03d}"


def write_segments(path: str | Path, segs: list[Segment]) -> Path:
    """Write JSON, CSV or an SRT subtitle file (so any video player shows the labels), by suffix."""
    path = Path(path)
    if path.suffix.lower() == ".srt":
        blocks = []
        for i, sg in enumerate(segs, start=1):
            text = sg.label + (f" / {sg.fine}" if sg.fine else "") + (f" [{sg.value_category}]" if sg.value_category else "")
            blocks.append(f"{i}\n{_srt_time(sg.start_s)} --> {_srt_time(sg.end_s)}\n{text}\n")
        return write_text(path, "\n".join(blocks))
    if path.suffix.lower() == ".json":
        return write_text(path, json.dumps({"segments": [asdict(s) for s in segs]}, indent=1) + "\n")
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["start_s", "end_s", "label", "fine", "value_category", "confidence"])
    for s in segs:
        w.writerow([f"{s.start_s:.3f}", f"{s.end_s:.3f}", s.label, s.fine or "", s.value_category or "",
                    "" if s.confidence is None else f"{s.confidence:.4f}"])
    return write_text(path, buf.getvalue())
