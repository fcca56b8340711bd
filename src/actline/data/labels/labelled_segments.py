"""Labelled segments of recordings, their CSV file, their checks, and the keyframe rule.

A segment is ``[start_s, end_s)`` in seconds from the recording's FIRST frame (the sensor's own clock
never appears here): it holds every frame whose time since the first frame is at or after ``start_s``
and before ``end_s``. ``annotations/segments.csv`` holds them, one a line: ``recording,start_s,end_s,label``.

The keyframe rule (:class:`KeyframeRule`) turns segments into the COCO keyframes the training readers take:
inside each segment, keyframes every ``every_s`` seconds on a grid centred in the segment, no closer
than ``edge_s`` to either end (a segment too short for that gets one keyframe, at its middle), each
snapped to the nearest frame of the segment; a grid point farther than ``every_s / 2`` from any frame
(a gap in the recording) gets none. Times map to frames through the recording's own timestamps.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from actline.core.atomic import write_text
from actline.core.errors import ActlineError
from actline.data.dataset import ClipDataset, Recording
from actline.data.limits import ReadLimits, current_limits

HEADER = ("recording", "start_s", "end_s", "label")
EPS = 1e-6  # seconds: below a millisecond timestamp's resolution


@dataclass(frozen=True)
class LabelledSegment:
    """``label`` holds from ``start_s`` (inclusive) to ``end_s`` (exclusive), seconds from the recording's first frame."""

    recording: str
    start_s: float
    end_s: float
    label: str


@dataclass(frozen=True)
class KeyframeRule:
    """How segments become COCO keyframes (see the module docstring). The defaults resemble real data:
    a keyframe every ~1.45 s."""

    every_s: float = 1.45
    edge_s: float = 0.2
    name: str = "centred-grid"

    def __post_init__(self):
        if not (isinstance(self.every_s, (int, float)) and math.isfinite(self.every_s) and self.every_s > 0):
            raise ActlineError("keyframe rule", f"every_s must be a positive number of seconds, got {self.every_s!r}")
        if not (isinstance(self.edge_s, (int, float)) and math.isfinite(self.edge_s) and self.edge_s >= 0):
            raise ActlineError("keyframe rule", f"edge_s must be zero or more seconds, got {self.edge_s!r}")
        if self.name != "centred-grid":
            raise ActlineError("keyframe rule", f"unknown rule {self.name!r} (known: centred-grid)")

    def to_dict(self) -> dict:
        return {"rule": self.name, "every_s": float(self.every_s), "edge_s": float(self.edge_s)}

    @classmethod
    def from_dict(cls, d, where) -> KeyframeRule:
        """The rule written by :meth:`to_dict` (in a COCO file's ``info``); anything else is one error naming ``where``."""
        if not isinstance(d, dict):
            raise ActlineError(where, f"keyframe rule must be an object, got {type(d).__name__}")
        unknown = set(d) - {"rule", "every_s", "edge_s"}
        if unknown:
            raise ActlineError(where, f"keyframe rule has unknown field(s) {sorted(unknown)}")
        defaults = asdict(cls())
        try:
            return cls(every_s=d.get("every_s", defaults["every_s"]), edge_s=d.get("edge_s", defaults["edge_s"]),
                       name=d.get("rule", defaults["name"]))
        except ActlineError as exc:
            raise ActlineError(where, exc.message) from None


# ------------------------------------------------------------------ checks
def frame_tolerance_s(rec: Recording) -> float:
    """One frame of ``rec``: its median frame interval (0.1 s for a single frame)."""
    dts = np.diff(rec.timestamps)
    return float(np.median(dts)) if len(dts) else 0.1


def validate_segments(segments: list[LabelledSegment], recordings: dict[str, Recording] | None,
                      classes: list[str] | None, where, lines: list[int] | None = None) -> list[LabelledSegment]:
    """Refuse, in one line naming ``where`` and the row, the first bad segment: an unknown recording or class
    (when ``recordings`` / ``classes`` are given), a time that is not a number, an end at or before the start,
    a segment outside its recording (beyond its duration by more than one frame), or two overlapping
    segments of one recording. ``lines`` are the segments' line numbers in a file, for the messages."""
    def row(i: int) -> str:
        s = segments[i]
        return f"line {lines[i]}" if lines else f"segment {i + 1} ({s.recording} {s.start_s}-{s.end_s} s)"

    known = set(classes) if classes is not None else None
    for i, s in enumerate(segments):
        if not isinstance(s.recording, str) or not s.recording:
            raise ActlineError(where, f"{row(i)}: no recording")
        if not isinstance(s.label, str) or not s.label.strip():
            raise ActlineError(where, f"{row(i)}: no label")
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (s.start_s, s.end_s)):
            raise ActlineError(where, f"{row(i)}: start_s and end_s must be finite numbers")
        if s.end_s <= s.start_s:
            raise ActlineError(where, f"{row(i)}: ends ({s.end_s} s) at or before it starts ({s.start_s} s)")
        if recordings is not None and s.recording not in recordings:
            raise ActlineError(where, f"{row(i)}: unknown recording {s.recording!r} "
                                      f"(known: {', '.join(sorted(recordings)[:8]) or 'none'})")
        if known is not None and s.label not in known:
            raise ActlineError(where, f"{row(i)}: unknown class {s.label!r} (known: {', '.join(classes)})")
        if recordings is not None:
            rec = recordings[s.recording]
            limit = rec.duration_s + frame_tolerance_s(rec)
            if s.start_s < -EPS or s.end_s > limit + EPS:
                raise ActlineError(where, f"{row(i)}: {s.start_s}-{s.end_s} s is outside recording {s.recording!r} "
                                          f"(0-{rec.duration_s:.3f} s, one frame of tolerance)")
    _check_overlaps(segments, where, row)
    return segments


def _check_overlaps(segments: list[LabelledSegment], where, row) -> None:
    order = sorted(range(len(segments)), key=lambda i: (segments[i].recording, segments[i].start_s, segments[i].end_s))
    for a, b in zip(order, order[1:]):
        sa, sb = segments[a], segments[b]
        if sa.recording == sb.recording and sb.start_s < sa.end_s - EPS:
            raise ActlineError(where, f"{row(b)}: overlaps {row(a)} in recording {sa.recording!r} "
                                      f"({sb.start_s} s starts before {sa.end_s} s)")


# ------------------------------------------------------------------ segments.csv
def read_segments_csv(path: str | Path, recordings: dict[str, Recording] | None = None,
                      classes: list[str] | None = None, limits: ReadLimits | None = None) -> list[LabelledSegment]:
    """The segments of a ``recording,start_s,end_s,label`` CSV (extra columns are ignored), checked by
    :func:`validate_segments`. The file's size is capped before it is read (``ReadLimits.max_label_bytes``)."""
    path = Path(path)
    current_limits(limits).check_file_size(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ActlineError(path, "not UTF-8 text") from None
    except OSError as exc:
        raise ActlineError(path, f"unreadable ({type(exc).__name__}: {exc})") from None
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise ActlineError(path, f"malformed CSV ({exc})") from None
    if not rows or not set(HEADER) <= {c.strip() for c in rows[0]}:
        got = ",".join(rows[0])[:80] if rows else "an empty file"
        raise ActlineError(path, f"line 1: expected the header {','.join(HEADER)}, got {got!r}")
    col = {c.strip(): k for k, c in enumerate(rows[0])}
    segments, lines = [], []
    for n, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(rows[0]):
            raise ActlineError(path, f"line {n}: expected {len(rows[0])} fields, got {len(row)}")
        rec, start, end, label = (row[col[h]].strip() for h in HEADER)
        try:
            start_s, end_s = float(start), float(end)
        except ValueError:
            raise ActlineError(path, f"line {n}: start_s and end_s must be numbers, got {start!r}, {end!r}") from None
        segments.append(LabelledSegment(rec, start_s, end_s, label))
        lines.append(n)
    return validate_segments(segments, recordings, classes, path, lines)


def format_seconds(x: float) -> str:
    """Seconds as written in segments.csv: microseconds at most, no trailing zeros."""
    text = f"{x:.6f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def write_segments_csv(path: str | Path, segments: list[LabelledSegment]) -> Path:
    """``recording,start_s,end_s,label``, sorted by recording and start, written atomically."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(HEADER)
    for s in sorted(segments, key=lambda s: (s.recording, s.start_s, s.end_s)):
        w.writerow([s.recording, format_seconds(s.start_s), format_seconds(s.end_s), s.label])
    return write_text(path, buf.getvalue())


# ------------------------------------------------------------------ segments <-> keyframes
def relative_times(rec: Recording) -> np.ndarray:
    """Each frame's time in seconds since the recording's first frame, rounded to the microsecond: the
    difference of two Unix times in float64 is off by up to ~2e-7 s, and a segment boundary written at a
    frame's time (6 decimals in segments.csv) must still fall exactly on that frame."""
    ts = np.asarray(rec.timestamps, dtype=np.float64)
    return np.round(ts - ts[0], 6) if len(ts) else ts


def keyframes(recording: Recording, segments: list[LabelledSegment], rule: KeyframeRule = KeyframeRule()
              ) -> list[tuple[int, str]]:
    """(frame index, label) of the keyframes the rule puts in ``recording``'s segments (others' are ignored),
    sorted by frame."""
    rel = relative_times(recording)
    out: dict[int, str] = {}
    for s in segments:
        if s.recording != recording.id:
            continue
        lo, hi = np.searchsorted(rel, s.start_s - EPS, "left"), np.searchsorted(rel, s.end_s - EPS, "left")
        if hi <= lo:
            continue  # no frame inside the segment
        inside = rel[lo:hi]
        for t in _grid(s.start_s, s.end_s, rule):
            j = int(np.argmin(np.abs(inside - t)))
            if abs(inside[j] - t) <= rule.every_s / 2 + EPS:
                out.setdefault(int(lo + j), s.label)
    return sorted(out.items())


def _grid(start: float, end: float, rule: KeyframeRule) -> np.ndarray:
    length = end - start
    usable = length - 2 * rule.edge_s
    if usable < 0:
        return np.array([start + length / 2])
    n = int(math.floor(usable / rule.every_s + 1e-9)) + 1
    return start + (length - (n - 1) * rule.every_s) / 2 + np.arange(n) * rule.every_s


def frames_to_segment(rec: Recording, first: int, last: int, label: str) -> LabelledSegment:
    """The segment holding exactly frames ``first..last`` (inclusive) of ``rec``: it ends where the next frame
    starts (or one frame after the last frame of the recording)."""
    rel = relative_times(rec)
    end = rel[last + 1] if last + 1 < len(rel) else rel[last] + frame_tolerance_s(rec)
    return LabelledSegment(rec.id, float(rel[first]), float(end), label)


def segments_from_keyframes(dataset: ClipDataset) -> list[LabelledSegment]:
    """Segments for a data set that has keyframes only: runs of keyframes with equal labels, each boundary
    halfway between two keyframes. A run's outer ends lie half the recording's median keyframe spacing
    beyond its first and last keyframes (within the recording), and a gap of more than twice that
    spacing between two keyframes ends a run even when their labels agree."""
    by_rec: dict[str, dict[int, int]] = {}
    for s in dataset.samples:
        by_rec.setdefault(s.recording_id, {}).setdefault(s.frame_idx, s.label)
    out = []
    for rec_id, frames in sorted(by_rec.items()):
        rec = dataset.recordings[rec_id]
        rel = relative_times(rec)
        idx = sorted(frames)
        t = rel[idx]
        half = float(np.median(np.diff(t))) / 2 if len(t) > 1 else KeyframeRule().every_s / 2
        hi = rel[-1] + frame_tolerance_s(rec)
        start = max(0.0, t[0] - half)
        for k in range(len(idx)):
            last = k + 1 == len(idx)
            if last or frames[idx[k + 1]] != frames[idx[k]] or t[k + 1] - t[k] > 4 * half:
                joined = not last and t[k + 1] - t[k] <= 4 * half
                end = (t[k] + t[k + 1]) / 2 if joined else min(hi, t[k] + half)
                out.append(LabelledSegment(rec_id, float(start), float(end), dataset.classes[frames[idx[k]]]))
                start = end if joined else (max(0.0, t[k + 1] - half) if not last else start)
    return out
