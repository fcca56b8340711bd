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
from actline.core.jsonfile import read_json
from actline.core.rle import runs


@dataclass
class Segment:
    """One stretch of a timeline: start and end in seconds, the (coarse) label, and where known the fine
    label, its value category and the confidence."""

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
    if path.suffix.lower() == ".json":
        obj = read_json(path)
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
    text = path.read_text(encoding="utf-8")
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


def segments_to_frames(segs: list[Segment], fps: float | None = None, n_frames: int | None = None,
                       fill: str = "background", times: np.ndarray | None = None) -> np.ndarray:
    """Frame-wise labels, the one mapping from segments to frames: each frame takes the label of the
    segment holding its instant (``start_s <= t < end_s``); instants no segment holds get ``fill``.

    A frame's instant is ``times[i]`` (seconds from the start, e.g. a thermal recording's own
    timestamps) or, without ``times``, ``i / fps`` for ``n_frames`` frames (default: up to the
    last segment's end).
    """
    if times is None:
        if n_frames is None:
            n_frames = int(round(max((s.end_s for s in segs), default=0.0) * fps))
        times = np.arange(n_frames) / fps
    times = np.asarray(times, dtype=np.float64)
    out = np.full(len(times), fill, dtype=object)
    for s in segs:
        out[(times >= s.start_s) & (times < s.end_s)] = s.label
    return out.astype(str)


def frames_to_segments(labels, fps: float) -> list[Segment]:
    return [Segment(float(s / fps), float(e / fps), str(v)) for s, e, v in runs(labels)]


def step_bounds(times: np.ndarray) -> np.ndarray:
    """N+1 boundaries for N chunks: midpoints between chunk centres, the first start and the last end."""
    if len(times) == 0:
        return np.zeros(1)
    c = times.mean(1)
    return np.r_[times[0, 0], (c[1:] + c[:-1]) / 2, times[-1, 1]]


def steps_to_segments(labels, times: np.ndarray, names: list[str]) -> list[Segment]:
    """Runs of equal per-chunk labels (indices into ``names``) as segments; a boundary lies halfway
    between the centres of the chunks either side of it (:func:`step_bounds`)."""
    bounds = step_bounds(np.asarray(times))
    return [Segment(float(bounds[s]), float(bounds[e]), names[k]) for s, e, k in runs(labels)]


def steps_to_frames(labels, times: np.ndarray, frame_times: np.ndarray, names: list[str]) -> np.ndarray:
    """Per-chunk labels to frame-wise labels: :func:`steps_to_segments`, then :func:`segments_to_frames`."""
    return segments_to_frames(steps_to_segments(labels, times, names), times=frame_times)


def vote(prob: np.ndarray) -> tuple[int, float]:
    """The label of a stretch of steps: the class of highest mean probability, and that mean."""
    p = np.asarray(prob).mean(0)
    k = int(p.argmax())
    return k, float(p[k])


LEVELS = ("label", "fine")  # what load_labels reads of a segment: its (coarse) label or its fine label


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


TIMELINE_SUFFIXES = (".json", ".csv", ".txt")  # where a name has several, segments (.json, then .csv) win


def _by_stem(d: Path, suffixes: tuple[str, ...] = TIMELINE_SUFFIXES) -> dict[str, Path]:
    files = sorted((p for p in d.iterdir() if p.is_file() and p.suffix in suffixes),
                   key=lambda p: (p.stem, -suffixes.index(p.suffix)))
    return {p.stem: p for p in files}


def pair_timelines(pred: str | Path, gt: str | Path) -> list[tuple[Path, Path]]:
    """(prediction, ground truth) pairs: two files, or two directories matched by file name (every ground
    truth needs a prediction)."""
    pred, gt = Path(pred), Path(gt)
    for p in (pred, gt):
        if not p.exists():
            raise ActlineError(p, "not found (no such file or directory)")
    if pred.is_dir() != gt.is_dir():
        dir_, file_ = (pred, gt) if pred.is_dir() else (gt, pred)
        raise ActlineError(file_, f"a file, but {dir_} is a directory: give two files or two directories")
    if not pred.is_dir():
        return [(pred, gt)]
    truth, preds = _by_stem(gt), _by_stem(pred)
    missing = sorted(set(truth) - set(preds))
    if missing:
        raise ActlineError(pred, f"no prediction for {len(missing)} ground-truth file(s), e.g. {missing[:3]}")
    if not truth:
        raise ActlineError(gt, "no .txt, .csv or .json timelines found")
    return [(preds[k], truth[k]) for k in sorted(truth)]


def read_timelines(paths: list[str | Path]) -> dict[str, list[Segment]]:
    """Segment files (.json/.csv), or directories of them, by name (a .json and a .csv of one timeline count once)."""
    files = []
    for p in map(Path, paths):
        files += list(_by_stem(p, (".json", ".csv")).values()) if p.is_dir() else [p]
    if not files:
        raise ActlineError(paths[0] if paths else None, "no .json or .csv timelines found")
    out: dict[str, list[Segment]] = {}
    for f in files:
        out.setdefault(f.stem, read_segments(f))
    return out
