"""Labelled data sets on disk: written whole (:func:`write_labelled_dataset`) or updated in place
(:func:`update_dataset`), in the ThermalDataGen layout the readers take::

    DIR/frames/<recording>.h5            frames (N, H, W) float32 °C, timestamps (N,) int64 ms
    DIR/annotations/segments.csv         recording,start_s,end_s,label (seconds from the recording's first frame)
    DIR/annotations/train.json           COCO keyframes drawn from the segments by the keyframe rule (in its info)
    DIR/annotations/class_mapping.json   {"classes": [...], "class_to_id": {...}}

Nothing is half-written: a new data set is a temporary directory renamed into place; an update writes
the frames of new recordings (each file atomically), then swaps the whole ``annotations/`` directory.
Updates hold an exclusive lock (``DIR/.actline-update.lock``) around read, check and write, and refuse to
overwrite a data set that changed since the caller read its version (:func:`dataset_version`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import re
import shutil
from pathlib import Path

import numpy as np

from actline.core.atomic import atomic_dir, recover_dir
from actline.core.errors import ActlineError
from actline.core.jsonfile import read_json_object
from actline.data import coco
from actline.data.dataset import Recording
from actline.data.labels.labelled_segments import (
    KeyframeRule,
    LabelledSegment,
    keyframes,
    read_segments_csv,
    segments_from_keyframes,
    validate_segments,
    write_segments_csv,
)
from actline.data.recordings.thermal_h5_file import read_recording_h5, write_recording_h5

try:
    import fcntl
except ImportError:  # not POSIX: updates are then safe only with one writer at a time
    fcntl = None

ANNOTATION_FILES = ("segments.csv", "class_mapping.json", "train.json", "val.json")
LOCK_NAME = ".actline-update.lock"
MAX_COCO_BYTES = 256 << 20  # an annotation file actline wrote: ~300 bytes a keyframe
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*_[A-Za-z0-9._-]+$")


def check_recording_name(name: str, where) -> str:
    """A recording's name is ``<location>_<rest>`` (letters, digits, ``.``, ``-``, ``_``): grouping by room
    takes the part before the first underscore, and the name becomes ``frames/<name>.h5``."""
    if not isinstance(name, str) or not _NAME.match(name) or name.endswith((".", "_")):
        raise ActlineError(where, f"recording name {name!r} must be <location>_<rest> (letters, digits, '.', '-', '_'; "
                                  "e.g. SL14_2025-06-01): rename the file")
    return name


def dataset_version(root: str | Path) -> str:
    """SHA-256 over the data set's annotation files (segments, class mapping, keyframes): it changes with every update."""
    ann = recover_dir(Path(root) / "annotations")
    h = hashlib.sha256()
    for name in ANNOTATION_FILES:
        p = ann / name
        h.update(name.encode() + b"\0" + (hashlib.sha256(p.read_bytes()).digest() if p.is_file() else b"-"))
    return h.hexdigest()


def write_labelled_dataset(root: str | Path, recordings: dict[str, Recording], segments: list[LabelledSegment],
                           classes: list[str], rule: KeyframeRule = KeyframeRule(), overwrite: bool = False) -> Path:
    """A new data set at ``root`` (atomically: a temporary directory renamed into place) holding
    ``recordings``, ``segments`` and their keyframes; ``overwrite`` replaces an existing one."""
    root = Path(root)
    classes = _checked_classes(classes, root)
    for name, rec in recordings.items():
        _check_recording(name, rec, root)
    validate_segments(segments, recordings, classes, root / "annotations" / "segments.csv")
    if root.exists() and not overwrite:
        raise ActlineError(root, "already exists (use --overwrite to replace it)")
    with atomic_dir(root, overwrite=overwrite) as tmp:
        (tmp / "frames").mkdir()
        for name, rec in sorted(recordings.items()):
            _write_frames(tmp / "frames" / f"{name}.h5", rec)
        (tmp / "annotations").mkdir()
        _write_annotations(tmp / "annotations", recordings, segments, classes, None, rule)
    return root


def update_dataset(root: str | Path, recordings: dict[str, Recording], segments_by_recording: dict[str, list],
                   classes: list[str] | None = None, expected_version: str | None = None) -> str:
    """Change an existing data set and return its new version: add the ``recordings`` it does not hold yet,
    replace all segments of each recording named in ``segments_by_recording`` (an empty list clears them),
    add ``classes`` it does not know yet, and rewrite segments.csv and the keyframes (with the rule written in
    its train.json) in one swap. Other recordings keep their segments and keyframes. A data set that has
    keyframes only gets segments for them first (:func:`segments_from_keyframes`).

    With ``expected_version`` (from :func:`dataset_version` when the caller read the data set), a data set
    that changed since is refused: a stale page must not overwrite someone else's labels."""
    root = Path(root)
    ann = root / "annotations"
    if not (root / "frames").is_dir() or not (ann / "class_mapping.json").is_file():
        raise ActlineError(root, "not a data set written by actline (no frames/ or annotations/class_mapping.json)")
    with _update_lock(root):
        current = dataset_version(root)
        if expected_version is not None and expected_version != current:
            raise ActlineError(root, "the data set changed since it was opened (someone saved labels in between): "
                                     "reload it and apply your changes again")
        old_classes, class_to_id = coco.read_class_mapping(ann / "class_mapping.json")
        all_classes = old_classes + [c for c in dict.fromkeys(classes or []) if c not in old_classes]
        _checked_classes(all_classes, root)
        for c in all_classes[len(old_classes):]:
            class_to_id[c] = max(class_to_id.values(), default=-1) + 1
        on_disk = {p.stem for p in (root / "frames").glob("*.h5")}
        new = {k: v for k, v in recordings.items() if k not in on_disk}
        for name, rec in new.items():
            _check_recording(name, rec, root)
        recs = {r: new.get(r) or recordings.get(r) or _read_existing(root, r, on_disk)
                for r in segments_by_recording}
        segments = []
        for r, segs in segments_by_recording.items():
            segments += [s if s.recording == r else _wrong_recording(root, r, s) for s in segs]
        validate_segments(segments, recs, all_classes, ann / "segments.csv")
        kept = [s for s in _existing_segments(root) if s.recording not in segments_by_recording]
        for name, rec in sorted(new.items()):
            _write_frames(root / "frames" / f"{name}.h5", rec)
        with atomic_dir(ann, overwrite=True) as tmp:
            for p in ann.iterdir():  # files of other tools stay
                if p.is_file() and p.name not in ANNOTATION_FILES:
                    shutil.copy2(p, tmp / p.name)
            _write_annotations(tmp, recs, segments, all_classes, class_to_id, _rule_of(ann),
                               kept_segments=kept, kept_coco=_kept_coco(ann, set(segments_by_recording)))
        return dataset_version(root)


# ------------------------------------------------------------------ helpers
@contextlib.contextmanager
def _update_lock(root: Path):
    fd = os.open(root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _checked_classes(classes, where) -> list[str]:
    classes = list(classes)
    if not classes or not all(isinstance(c, str) and c.strip() and "\n" not in c for c in classes):
        raise ActlineError(where, "classes must be a non-empty list of class names")
    if len(set(classes)) != len(classes):
        raise ActlineError(where, f"duplicate class names: {sorted({c for c in classes if classes.count(c) > 1})}")
    return classes


def _check_recording(name: str, rec: Recording, where) -> None:
    check_recording_name(name, where)
    if rec.id != name:
        raise ActlineError(where, f"recording {name!r} carries the id {rec.id!r}")
    frames, ts = np.asarray(rec.frames), np.asarray(rec.timestamps)
    if frames.ndim != 3 or len(frames) == 0 or ts.shape != (len(frames),):
        raise ActlineError(where, f"recording {name!r}: frames {frames.shape} and timestamps {ts.shape} do not match")


def _wrong_recording(root: Path, key: str, s: LabelledSegment):
    raise ActlineError(root, f"a segment of recording {s.recording!r} was given under {key!r}")


def _read_existing(root: Path, name: str, on_disk: set[str]) -> Recording:
    if name not in on_disk:
        raise ActlineError(root, f"unknown recording {name!r}: not in {root / 'frames'} and not given")
    return read_recording_h5(root / "frames" / f"{name}.h5", name)


def _write_frames(path: Path, rec: Recording) -> None:
    ts_ms = np.round(np.asarray(rec.timestamps, dtype=np.float64) * 1000).astype(np.int64)
    write_recording_h5(path, np.asarray(rec.frames, dtype=np.float32), ts_ms, rec.id,
                       mac=str(rec.meta.get("mac_address", "") or ""))


def _existing_segments(root: Path) -> list[LabelledSegment]:
    """segments.csv, or for a data set with keyframes only, segments drawn from its keyframes."""
    ann = root / "annotations"
    if (ann / "segments.csv").is_file():
        return read_segments_csv(ann / "segments.csv")
    docs = [read_json_object(ann / f, MAX_COCO_BYTES) for f in ("train.json", "val.json") if (ann / f).is_file()]
    if not any(d.get("images") for d in docs):
        return []
    from actline.data.thermal_h5 import read_thermal_dataset

    return segments_from_keyframes(read_thermal_dataset(root))


def _rule_of(ann: Path) -> KeyframeRule:
    path = ann / "train.json"
    if not path.is_file():
        return KeyframeRule()
    info = read_json_object(path, MAX_COCO_BYTES).get("info")
    if isinstance(info, dict) and "keyframe_rule" in info:
        return KeyframeRule.from_dict(info["keyframe_rule"], f"{path}: info.keyframe_rule")
    return KeyframeRule()


def _kept_coco(ann: Path, replaced: set[str]) -> dict[str, tuple[list, list]]:
    """subset -> (images, annotations) of the keyframes of recordings that are not replaced."""
    out = {}
    for subset in ("train", "val"):
        path = ann / f"{subset}.json"
        if not path.is_file():
            continue
        doc = read_json_object(path, MAX_COCO_BYTES)
        images = [im for im in doc.get("images") or [] if isinstance(im, dict) and str(im.get("sensor_id")) not in replaced]
        ids = {im.get("id") for im in images}
        out[subset] = (images, [a for a in doc.get("annotations") or [] if isinstance(a, dict) and a.get("image_id") in ids])
    return out


def _write_annotations(ann: Path, recs: dict[str, Recording], segments: list[LabelledSegment], classes: list[str],
                       class_to_id: dict[str, int] | None, rule: KeyframeRule, kept_segments=(), kept_coco=None) -> None:
    ids = coco.class_ids(classes, class_to_id)
    kept_coco = kept_coco or {}
    images, annotations = list(kept_coco.get("train", ([], []))[0]), list(kept_coco.get("train", ([], []))[1])
    n = max((a["id"] for _, anns in kept_coco.values() for a in anns if isinstance(a.get("id"), int)), default=0)
    for name in sorted({s.recording for s in segments}):
        rec = recs[name]
        ts_ms = np.round(np.asarray(rec.timestamps, dtype=np.float64) * 1000).astype(np.int64)
        h, w = rec.frames.shape[1:]
        for idx, label in keyframes(rec, segments, rule):
            image = coco.image_entry(name, int(ts_ms[idx]), idx, int(h), int(w), image_id=f"{name}_{idx}")
            images.append(image)
            n += 1
            annotations.append(coco.annotation_entry(n, image["id"], coco.WHOLE_FRAME, label, ids[label], 0, None))
    info = {"description": "actline labelled recordings", "generator": "actline.data.labels",
            "keyframe_rule": rule.to_dict(), "date_created": dt.datetime.now(dt.timezone.utc).isoformat()}
    write_segments_csv(ann / "segments.csv", list(kept_segments) + list(segments))
    coco.write_coco(ann / "train.json", images, annotations, classes, info, ids)
    if "val" in kept_coco:
        coco.write_coco(ann / "val.json", *kept_coco["val"], classes, info, ids)
    coco.write_class_mapping(ann / "class_mapping.json", classes, ids)
