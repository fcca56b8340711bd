"""The review queue: windows a model was unsure about (or got wrong), waiting for a person's answer.

A folder of items, one pair of files each::

    <id>.npz   frames [N, H, W] float32 °C, timestamps [N] float64 s (the sensor's clock); no pickle
    <id>.json  {"format": 1, "id", "data", "recording", "start_s", "end_s", "top3": [[label, p], ...],
                "model", "source", "written_at", "answer", "answered_by", "answered_at"}

``start_s``/``end_s`` are seconds from the first frame of the recording (or stream) the window came
from; ``source`` is one of :data:`SOURCES`. Writers only add items: each file is written under a
temporary name and linked to its final name, which fails if the name exists (nothing is ever
overwritten), the ``.npz`` first and the ``.json`` second, so an item is visible (has its ``.json``)
only once complete. :func:`answer_item` rewrites the ``.json`` atomically, under a lock on the folder.

Readers cap every size before reading (the ``.json``, the ``.npz``, and through
:func:`~actline.data.recordings.recording_npz.read_npz_arrays` each array's declared shape and its
uncompressed bytes; nothing is unpickled) and refuse or skip a bad file with one line naming it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import re
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from actline.core.atomic import atomic_path, directory_lock, write_json
from actline.core.errors import ActlineError
from actline.core.jsonfile import read_json_object
from actline.data.limits import ReadLimits
from actline.data.recordings.recording_npz import read_npz_arrays, write_npz_recording

log = logging.getLogger(__name__)

FORMAT = 1
SOURCES = ("collect", "false-alarm", "miss", "uncertain")
MAX_JSON_BYTES = 64 * 1024  # an item's .json is a few hundred bytes
MAX_NPZ_BYTES = 64 << 20  # an item's .npz: a window of a few hundred 40x60 frames is a few MB
MAX_FRAMES = 4096  # frames in one item (a 10 s window at 30 fps is 300)
MAX_SIDE = 512  # pixels along either side of a frame
MAX_VALUES = 1 << 24  # frames x H x W in one item (64 MB as float32; 4096 frames of 40x60 are 9.8 M)
MAX_ITEMS = 100_000  # items listed from one folder
MAX_TEXT = 200  # characters in a label, a recording name, a person's name, a model checksum
ID_RE = re.compile(r"^\d{8}T\d{6}-[0-9a-f]{8}$")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # a recording name that is also a safe file name


@dataclass(frozen=True)
class ReviewItem:
    id: str
    recording: str
    start_s: float
    end_s: float
    top3: list  # [[label, probability], ...], most probable first
    source: str
    written_at: str
    data: str | None = None
    model: str | None = None
    answer: str | None = None
    answered_by: str | None = None
    answered_at: str | None = None

    def to_dict(self) -> dict:
        return {"format": FORMAT, **asdict(self)}


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def _new_id() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(4)


def check_id(item_id: str, where="review queue") -> str:
    if not isinstance(item_id, str) or not ID_RE.match(item_id):
        raise ActlineError(where, f"not a review item id: {str(item_id)[:80]!r} (expected e.g. 20250101T120000-0a1b2c3d)")
    return item_id


def add_item(directory: str | Path, frames, timestamps, *, recording: str, start_s: float, end_s: float,
             top3, model: str | None, source: str, data: str | Path | None = None) -> str:
    """Add one item (its ``.npz``, then its ``.json``) and return its id; never overwrites anything."""
    directory = Path(directory)
    x = np.ascontiguousarray(frames, dtype=np.float32)
    ts = np.ascontiguousarray(timestamps, dtype=np.float64)
    _check_arrays(x, ts, "review item")
    meta = {"recording": recording, "start_s": float(start_s), "end_s": float(end_s),
            "top3": [[str(c), float(p)] for c, p in list(top3)[:3]], "model": model, "source": source,
            "written_at": _now(), "data": None if data is None else str(data)}
    _check_meta(meta, "review item")
    directory.mkdir(parents=True, exist_ok=True)
    for _ in range(5):
        item_id = _new_id()
        try:
            write_npz_recording(directory / f"{item_id}.npz", x, ts, exclusive=True)
        except FileExistsError:
            continue  # another writer took this id in the same second: draw another
        item = ReviewItem(id=item_id, **{k: meta[k] for k in ("recording", "start_s", "end_s", "top3", "source",
                                                                  "written_at", "data", "model")})
        with atomic_path(directory / f"{item_id}.json", exclusive=True) as tmp:
            tmp.write_text(_dumps(item.to_dict()), encoding="utf-8")
        return item_id
    raise ActlineError(directory, "could not find a free item id (is another writer looping?)")


def _dumps(obj: dict) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def read_items(directory: str | Path, answered: bool | None = None) -> list[ReviewItem]:
    """The folder's complete items, oldest first; ``answered`` keeps only answered (True) or open (False) ones.
    A bad ``.json`` is skipped with one warning naming it."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ActlineError(directory, "review queue folder not found")
    items = []
    for n, path in enumerate(sorted(directory.glob("*.json"))):
        if n >= MAX_ITEMS:
            log.warning("%s: more than %d items; the rest are not listed", directory, MAX_ITEMS)
            break
        try:
            item = read_item(directory, path.stem)
        except ActlineError as exc:
            log.warning("skipped: %s", exc)
            continue
        if answered is None or (item.answer is not None) == answered:
            items.append(item)
    return sorted(items, key=lambda i: (i.written_at, i.id))


def read_item(directory: str | Path, item_id: str) -> ReviewItem:
    """One item's ``.json``, validated field by field (its ``.npz`` must exist too)."""
    path = Path(directory) / f"{check_id(item_id, Path(directory) / item_id)}.json"
    obj = read_json_object(path, MAX_JSON_BYTES, "a review item")
    if obj.get("format") != FORMAT:
        raise ActlineError(path, f"'format' must be {FORMAT}, got {str(obj.get('format'))[:40]!r}")
    if obj.get("id") != item_id:
        raise ActlineError(path, f"'id' is {str(obj.get('id'))[:80]!r}, not the file's name {item_id!r}")
    if not path.with_suffix(".npz").is_file():
        raise ActlineError(path, f"its frames ({item_id}.npz) are missing")
    _check_meta(obj, path)
    fields = ReviewItem.__dataclass_fields__
    return ReviewItem(**{k: obj.get(k) for k in fields})


def _check_meta(obj: dict, where) -> None:
    def text(name, optional=False):
        v = obj.get(name)
        if v is None and optional:
            return
        if not isinstance(v, str) or not v or len(v) > (4096 if name == "data" else MAX_TEXT):
            raise ActlineError(where, f"'{name}' must be a non-empty string of at most {MAX_TEXT} characters")

    for name in ("recording", "source", "written_at"):
        text(name)
    for name in ("data", "model", "answer", "answered_by", "answered_at"):
        text(name, optional=True)
    if not NAME_RE.match(obj["recording"]):
        raise ActlineError(where, f"'recording' {obj['recording']!r} must be letters, digits, '.', '_' or '-'")
    if obj["source"] not in SOURCES:
        raise ActlineError(where, f"'source' must be one of {', '.join(SOURCES)}, got {obj['source']!r}")
    s, e = obj.get("start_s"), obj.get("end_s")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in (s, e)) or e < s:
        raise ActlineError(where, "'start_s' and 'end_s' must be finite numbers with start_s <= end_s")
    top3 = obj.get("top3")
    if not isinstance(top3, list) or not 1 <= len(top3) <= 3 or not all(
            isinstance(t, list) and len(t) == 2 and isinstance(t[0], str) and 0 < len(t[0]) <= MAX_TEXT
            and isinstance(t[1], (int, float)) and 0 <= t[1] <= 1 for t in top3):
        raise ActlineError(where, "'top3' must be 1 to 3 [label, probability] pairs")


def read_item_frames(directory: str | Path, item_id: str) -> tuple[np.ndarray, np.ndarray]:
    """(frames [N, H, W] float32, timestamps [N] float64) of one item, every size checked before it is read."""
    path = Path(directory) / f"{check_id(item_id, Path(directory) / item_id)}.npz"
    if not path.is_file():
        raise ActlineError(path, "file not found")
    if path.stat().st_size > MAX_NPZ_BYTES:
        raise ActlineError(path, f"too large for a review item ({path.stat().st_size} bytes, at most {MAX_NPZ_BYTES})")
    frames, timestamps = read_npz_arrays(path, ReadLimits(max_frame_values=MAX_VALUES))
    _check_arrays(frames, timestamps, path)
    return frames, timestamps


def _check_arrays(frames: np.ndarray, timestamps: np.ndarray, where) -> None:
    if frames.ndim != 3 or not 1 <= len(frames) <= MAX_FRAMES or not all(0 < s <= MAX_SIDE for s in frames.shape[1:]):
        raise ActlineError(where, f"frames must be [N, H, W] with 1 <= N <= {MAX_FRAMES} and sides of at most "
                                  f"{MAX_SIDE}, got {frames.shape}")
    if timestamps.shape != (len(frames),):
        raise ActlineError(where, f"timestamps must be one per frame ({len(frames)}), got shape {timestamps.shape}")
    if not np.isfinite(frames).all():
        raise ActlineError(where, "frames contain NaN or inf")
    if not np.isfinite(timestamps).all() or (np.diff(timestamps) < 0).any():
        raise ActlineError(where, "timestamps must be finite and never go back")


def answer_item(directory: str | Path, item_id: str, label: str, who: str) -> ReviewItem:
    """Record the answer (a class name) and who gave it; an item is answered once (later answers are refused)."""
    directory = Path(directory)
    for name, value in (("label", label), ("who", who)):
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
            raise ActlineError(directory / item_id, f"the answer's {name} must be 1 to {MAX_TEXT} characters")
    with directory_lock(directory):
        item = read_item(directory, item_id)
        if item.answer is not None:
            raise ActlineError(directory / f"{item_id}.json",
                               f"already answered ({item.answer!r} by {item.answered_by}, {item.answered_at})")
        done = ReviewItem(**{**asdict(item), "answer": label, "answered_by": who, "answered_at": _now()})
        write_json(directory / f"{item_id}.json", done.to_dict())
    return done


def top3_of(probs, classes: list[str]) -> list[list]:
    """The three most probable classes with their probabilities, most probable first."""
    p = np.asarray(probs, dtype=np.float64)
    order = np.argsort(-p, kind="stable")[:3]
    return [[classes[int(k)], round(float(p[k]), 4)] for k in order]
