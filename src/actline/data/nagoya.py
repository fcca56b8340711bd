"""Reader for the Nagoya University extremely low-resolution FIR action data set (16×16, ~10 fps).

Layout::

    DIR/<day>/raw/<day>_p<N>_<light|dark><K>.csv[.gz]   line 1 date, line 2 header, then
                                                        time_s, PTAT, P000..P255 per frame
    DIR/annotation/annotation_<day>.csv                 file,start1,end1,label1,start2,...

Annotation start/end are frame indices into the data rows after the two header lines.
The data set does not document their base; no annotation ever touches either end of a
file (the smallest start is 69, the largest end 18 rows before the last), so the bounds
cannot decide it. We read them as 0-based and inclusive: a one-frame (0.1 s) offset is
below the precision of the hand annotation either way.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import zlib
from collections import Counter
from pathlib import Path

import numpy as np

from actline.core.errors import ActlineError
from actline.data.background_class import add_background_class
from actline.data.dataset import ClipDataset, Recording, Sample
from actline.data.limits import ReadLimits, current_limits
from actline.data.window import WindowRule

RAW_LABELS = ("walk", "walk1", "walk2", "sitdown", "standup", "falling1", "falling2", "sit", "lie", "stand")
CLASSES = ["walk", "sitdown", "standup", "falling1", "falling2", "sit", "lie", "stand"]
MERGE = {"walk1": "walk", "walk2": "walk"}
N_PIXELS = 256
UNSTABLE_FRAMES = 15  # the sensor's start-up frames read 2-5 °C: dropped
_DAY = re.compile(r"^\d{8}$")


def is_nagoya_dir(root: Path) -> bool:
    return (root / "annotation").is_dir() and any(_DAY.match(p.name) for p in root.iterdir() if p.is_dir())


class _CappedReader(io.RawIOBase):
    """A binary stream that fails as soon as more than ``cap`` bytes came out of ``inner`` (a file or a
    gzip decompressor), so a small ``.csv.gz`` cannot expand into gigabytes before we notice."""

    def __init__(self, inner, cap: int, path: Path, what: str):
        self.inner, self.cap, self.path, self.what, self.total = inner, cap, path, what, 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = self.inner.readinto(b)
        self.total += n
        if self.total > self.cap:
            raise ActlineError(self.path, f"{self.what} more than the limit of {self.cap:,} bytes")
        return n


def read_nagoya_csv(path: Path, limits: ReadLimits | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frames [N,16,16] float32 °C, timestamps [N] s, ptat [N]) from one .csv or .csv.gz file.

    Read as a stream under ``limits`` (decompressed bytes, frames x H x W, deadline): a file over a
    cap fails as soon as the cap is passed, having held at most one row beyond it.
    """
    limits, path = current_limits(limits), Path(path)
    gz = path.suffix == ".gz"
    try:
        with (gzip.open(path, "rb") if gz else open(path, "rb")) as raw:
            capped = _CappedReader(raw, limits.max_decompressed_bytes, path,
                                   "decompresses to" if gz else "holds")
            with io.TextIOWrapper(io.BufferedReader(capped), encoding="utf-8", newline="") as text:
                meta, pixels = _data_rows(path, csv.reader(_lines(text, path)), limits)
    except FileNotFoundError:
        raise ActlineError(path, "file not found") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise ActlineError(path, f"cannot read (truncated or not gzip): {exc}") from None
    except UnicodeDecodeError:
        raise ActlineError(path, "not UTF-8 text") from None
    except csv.Error as exc:
        raise ActlineError(path, f"malformed CSV ({exc})") from None
    if not (np.isfinite(meta).all() and np.isfinite(pixels).all()):  # after float32: 1e300 is inf there
        raise ActlineError(path, "contains NaN or inf values (or values beyond float32)")
    ts = meta[:, 0]
    if (np.diff(ts) < 0).any():
        raise ActlineError(path, f"time goes backwards at line {int(np.argmax(np.diff(ts) < 0)) + 4}")
    return pixels.reshape(-1, 16, 16), ts, meta[:, 1]


MAX_LINE = 64 * 1024  # a frame row is about 1.3 KB of text


def _lines(text, path: Path):
    """The file's lines, each at most ``MAX_LINE`` characters: one endless line cannot fill memory."""
    n = 0
    while line := text.readline(MAX_LINE + 1):
        n += 1
        if len(line) > MAX_LINE:
            raise ActlineError(path, f"line {n} is longer than {MAX_LINE} characters")
        yield line


ROW_BLOCK = 1024  # rows parsed into one float64 block, kept as float32 pixels; the deadline is checked per block


def _data_rows(path: Path, reader, limits: ReadLimits) -> tuple[np.ndarray, np.ndarray]:
    """The frame rows after the date and header lines: (time and PTAT [N, 2] float64, pixels [N, 256] float32).

    Rows are parsed a block at a time and kept as float32 pixels, so reading holds about twice the
    frames' own size (the blocks and their concatenation), never a Python object per row."""
    head = [row for _, row in zip(range(2), reader)]
    width = 2 + N_PIXELS
    if len(head) == 2 and (len(head[1]) != width or not head[1][0].lower().startswith("time")):
        raise ActlineError(path, f"line 2: expected header 'Time (sec),PTAT,P000..P255' ({width} fields), "
                                 f"got {len(head[1])} fields")
    block, n = np.empty((ROW_BLOCK, width), np.float64), 0
    metas, pixels = [], []

    def keep(rows: np.ndarray) -> None:
        metas.append(rows[:, :2].copy())
        with np.errstate(over="ignore"):  # beyond float32 becomes inf, refused below with the NaNs
            pixels.append(rows[:, 2:].astype(np.float32))

    for i, row in enumerate(reader):
        if n == ROW_BLOCK:
            keep(block)
            n = 0
        if i % ROW_BLOCK == 0:
            limits.check_deadline(path)
        limits.check_values(path, (i + 1, 16, 16))
        if len(row) != width:
            raise ActlineError(path, f"line {i + 3}: expected {width} fields, got {len(row)}")
        try:
            block[n] = [float(x) for x in row]
        except ValueError as exc:
            raise ActlineError(path, f"line {i + 3}: {exc}") from None
        n += 1
    if n:
        keep(block[:n])
    if not metas:
        raise ActlineError(path, f"expected a date line, a header line and frame rows; found {len(head)} line(s)")
    return np.concatenate(metas), np.concatenate(pixels)


def read_annotations(path: Path) -> dict[str, list[tuple[int, int, str]]]:
    """``file -> [(start, end, raw label), ...]`` from one ``annotation_<day>.csv``."""
    out: dict[str, list[tuple[int, int, str]]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        rows = list(csv.reader(lines))
    except FileNotFoundError:
        raise ActlineError(path, "file not found") from None
    except UnicodeDecodeError:
        raise ActlineError(path, "not UTF-8 text") from None
    except csv.Error as exc:
        raise ActlineError(path, f"malformed CSV ({exc})") from None
    for n, row in enumerate(rows, start=1):
        if not row or not row[0].strip():
            continue
        fields = [f.strip() for f in row[1:]]
        while fields and fields[-1] == "":
            fields.pop()
        if len(fields) % 3:
            raise ActlineError(path, f"line {n}: segment fields must come in (start,end,label) triples, got {len(fields)}")
        segs = []
        for k in range(0, len(fields), 3):
            s, e, label = fields[k:k + 3]
            if label not in RAW_LABELS:
                raise ActlineError(path, f"line {n}: unknown label {label!r} (known: {', '.join(RAW_LABELS)})")
            try:
                s_i, e_i = int(s), int(e)
            except ValueError:
                raise ActlineError(path, f"line {n}: start/end must be integers, got {s!r}, {e!r}") from None
            if e_i < s_i:
                raise ActlineError(path, f"line {n}: segment ends ({e_i}) before it starts ({s_i})")
            segs.append((s_i, e_i, label))
        out[row[0].strip()] = segs
    return out


def read_nagoya(root: str | Path, days: list[str] | None = None, window: int = 16, stride: int = 8,
                merge_walk: bool = True, unlabelled: str | None = None) -> ClipDataset:
    """Read the Nagoya data set: recordings with frame-wise labels, and window samples inside segments.

    Samples are window centres every ``stride`` frames inside each annotated segment (at least
    one per segment, at its middle), so a window of ``window`` frames is centred in the action.
    Each recording's group is its day: leave-one-day-out keeps whole days apart.
    ``unlabelled="none"`` adds a class for frames outside every segment (frame label, and a sample every
    ``2 * window`` frames there; :func:`~actline.data.background_class.add_background_class`): what a model
    needs to say "none of these actions".
    """
    root = Path(root)
    if not root.is_dir():
        raise ActlineError(root, "data directory not found")
    all_days = sorted(p.name for p in root.iterdir() if p.is_dir() and _DAY.match(p.name))
    days = days or all_days
    unknown = [d for d in days if d not in all_days]
    if unknown:
        raise ActlineError(root, f"day(s) {unknown} not found (available: {all_days})")
    classes = list(CLASSES) if merge_walk else [c for c in RAW_LABELS]
    recordings, samples, warnings = {}, [], []
    for day in days:
        ann_path = root / "annotation" / f"annotation_{day}.csv"
        ann = read_annotations(ann_path)
        files = sorted((root / day / "raw").glob("*.csv*"), key=lambda p: _natural(p.name))
        if not files:
            raise ActlineError(root / day / "raw", "no .csv or .csv.gz recordings")
        for path in files:
            name = path.name[:-3] if path.name.endswith(".gz") else path.name
            if name not in ann:
                warnings.append(f"{path}: no annotation line in {ann_path.name}; read without labels")
            frames, ts, ptat = read_nagoya_csv(path)
            labels, segments = _frame_labels(ann_path, name, ann.get(name, []), len(frames), classes, merge_walk)
            keep = slice(UNSTABLE_FRAMES, None)
            rec_id = Path(name).stem
            recordings[rec_id] = Recording(
                id=rec_id, frames=frames[keep], timestamps=ts[keep], group=day, source=str(path),
                frame_labels=labels[keep], meta={"ptat": ptat[keep], "lighting": "dark" if "_dark" in name else "light",
                                                 "dropped_start_frames": UNSTABLE_FRAMES})
            samples += _window_samples(rec_id, segments, window, stride)
    ds = ClipDataset(name=root.name, root=root, format="nagoya-csv", classes=classes, recordings=recordings,
                     samples=samples, warnings=warnings)
    return add_background_class(ds, unlabelled, WindowRule(length=window))


def _frame_labels(ann_path: Path, name: str, segs: list[tuple[int, int, str]], n_raw: int, classes: list[str],
                  merge_walk: bool) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """A raw recording's frame labels [n_raw] (-1: none), and the (start, end, class) spans samples come from."""
    labels = np.full(n_raw, -1, dtype=np.int64)
    segments = []
    for s, e, raw_label in segs:
        if e >= n_raw:
            raise ActlineError(ann_path, f"{name}: segment {s}-{e} ends past the last frame ({n_raw - 1})")
        label = MERGE.get(raw_label, raw_label) if merge_walk else raw_label
        labels[s:e + 1] = classes.index(label)
        segments.append((s, e, classes.index(label)))
    return labels, segments


def _window_samples(rec_id: str, segments: list[tuple[int, int, int]], window: int, stride: int) -> list[Sample]:
    """Window centres every ``stride`` frames inside each span (at least one, at its middle), in the
    recording's frame numbers (the first ``UNSTABLE_FRAMES`` raw frames are dropped)."""
    samples = []
    for s, e, label in segments:
        s, e = s - UNSTABLE_FRAMES, e - UNSTABLE_FRAMES
        if e < 0:
            continue
        s = max(s, 0)
        centres = list(range(s + window // 2, e - window // 2 + 2, stride)) or [(s + e) // 2]
        samples += [Sample(recording_id=rec_id, frame_idx=int(c), label=label, subset=None, id=f"{rec_id}@{c}")
                    for c in centres]
    return samples


def segment_counts(root: str | Path, days: list[str] | None = None) -> Counter:
    """Raw label -> number of annotated segments, straight from the annotation files."""
    root = Path(root)
    counts: Counter = Counter()
    for path in sorted((root / "annotation").glob("annotation_????????.csv")):
        if days and path.stem.split("_")[1] not in days:
            continue
        for segs in read_annotations(path).values():
            counts.update(label for _, _, label in segs)
    return counts


def _natural(name: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]
