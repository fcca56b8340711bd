"""CVAT: the label list ``actline data render --tool cvat`` writes, and the reader of CVAT's XML exports.

Format followed: CVAT's "XML annotation format", version 1.1 (docs.cvat.ai, "XML annotation format"; the
exporter ``cvat/apps/dataset_manager/formats/cvat.py``), as the "CVAT for video 1.1" and "CVAT for images
1.1" exports write it (an ``annotations.xml``, alone or in the export's zip):

- CVAT for video 1.1 (``<mode>interpolation</mode>``): a ``<track label="...">`` per object, whose shapes
  (``<box frame=".." outside="0|1" keyframe="1" .../>``, polygons, points, ...) mark where the object is
  visible: from a shape with ``outside="0"`` until the next shape (a shape with ``outside="1"`` ends it; the
  last visible shape lasts to the task's last frame). Each visible stretch labels those frames.
  A single shape is exported as a track of one frame step.
- CVAT for images 1.1 of a video task: ``<image id="frame">`` elements; a ``<tag label="..."/>`` in one
  labels that frame, and runs of tagged frames become ranges.

Frames are the video's frames counted from 0. A task must start at frame 0 with no frame step.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

from actline.core.atomic import write_json
from actline.core.errors import ActlineError
from actline.core.rle import runs
from actline.data.labels.video_labels import VideoLabels
from actline.data.limits import ReadLimits, current_limits

LABELS_NAME = "cvat-labels.json"
VERSION = "1.1"


def write_labels(out: Path, classes: list[str]) -> Path:
    """The classes as CVAT's label list (paste into a project's or task's labels, "Raw")."""
    return write_json(out / LABELS_NAME, [{"name": c, "attributes": []} for c in classes])


def _xml_bytes(path: Path, limits: ReadLimits) -> bytes:
    cap = limits.max_label_bytes
    limits.check_file_size(path, cap if not zipfile.is_zipfile(path) else 4 * cap)
    if not zipfile.is_zipfile(path):
        return path.read_bytes()
    with zipfile.ZipFile(path) as zf:
        try:
            info = zf.getinfo("annotations.xml")
        except KeyError:
            raise ActlineError(path, "a zip without annotations.xml: not a CVAT export") from None
        if info.file_size > cap:
            raise ActlineError(path, f"annotations.xml holds {info.file_size:,} bytes, more than the limit of {cap:,}")
        with zf.open(info) as fh:
            return fh.read(cap + 1)


def read_cvat_export(path: str | Path, limits: ReadLimits | None = None) -> VideoLabels:
    """The labelled video-frame ranges of one CVAT task export (XML or the export's zip)."""
    path = Path(path)
    data = _xml_bytes(path, current_limits(limits))
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise ActlineError(path, "XML with a document type or entities is not read (CVAT exports have none)")
    try:
        root = ET.fromstring(data)
    except (ET.ParseError, LookupError, ValueError) as exc:  # LookupError: an unknown encoding in the declaration
        raise ActlineError(path, f"not a CVAT XML export (not XML: {exc})") from None
    if root.tag != "annotations":
        raise ActlineError(path, f"not a CVAT XML export (root element <{root.tag}>, expected <annotations>)")
    version = (root.findtext("version") or "").strip()
    if version != VERSION:
        raise ActlineError(path, f"CVAT XML version {version!r}: actline reads version {VERSION} "
                                 "(export as 'CVAT for video 1.1')")
    meta = root.find("meta")
    if meta is not None and meta.find("project") is not None:
        raise ActlineError(path, "a project export: export each task ('Export task dataset', CVAT for video 1.1)")
    task = None if meta is None else (meta.find("task") if meta.find("task") is not None else meta.find("job"))
    if task is None:
        raise ActlineError(path, "no <meta><task> (or <job>): not a CVAT task export")
    last = _frames_of(path, task)
    names = [_stem(task.findtext("source")), _stem(task.findtext("name"))]
    labels = VideoLabels(names=[n for n in dict.fromkeys(names) if n], where="task")
    for k, track in enumerate(root.iter("track")):
        labels.ranges += _track_ranges(path, track, k, last)
    labels.ranges += _tag_ranges(path, root)
    return labels


def _stem(text: str | None) -> str:
    return (text or "").strip().replace("\\", "/").rsplit("/", 1)[-1].split(".", 1)[0]


def _int(path: Path, el, attr: str, where: str) -> int:
    try:
        return int(el.attrib[attr])
    except (KeyError, ValueError):
        raise ActlineError(path, f"{where}: needs a whole-number '{attr}', got {el.attrib.get(attr)!r}") from None


def _frames_of(path: Path, task) -> int:
    """The task's last frame; a task that starts after frame 0 or skips frames is refused."""
    start = (task.findtext("start_frame") or "0").strip()
    step = (task.findtext("frame_filter") or "").strip()
    if start not in ("", "0") or step not in ("", "step=1"):
        raise ActlineError(path, f"the task starts at frame {start} with frame filter {step!r}: create the task "
                                 "from the whole video (start frame 0, no frame step)")
    for key, minus in (("stop_frame", 0), ("size", 1)):
        text = (task.findtext(key) or "").strip()
        if text.isdigit():
            return int(text) - minus
    raise ActlineError(path, "the task names neither its stop_frame nor its size")


def _track_ranges(path: Path, track, k: int, last: int) -> list[tuple[int, int, str]]:
    label = track.attrib.get("label")
    where = f"track {track.attrib.get('id', k)} ({label})"
    if not label:
        raise ActlineError(path, f"{where}: no label")
    shapes = sorted(((_int(path, el, "frame", where), el.attrib.get("outside", "0") == "1")
                     for el in track if "frame" in el.attrib), key=lambda s: s[0])
    out = []
    for (frame, outside), nxt in zip(shapes, shapes[1:] + [(last + 1, True)]):
        if not outside and frame <= min(nxt[0] - 1, last):
            if out and out[-1][1] == frame - 1:
                out[-1] = (out[-1][0], min(nxt[0] - 1, last), label)
            else:
                out.append((frame, min(nxt[0] - 1, last), label))
    return out


def _tag_ranges(path: Path, root) -> list[tuple[int, int, str]]:
    tagged: dict[int, str] = {}
    for image in root.iter("image"):
        frame = _int(path, image, "id", "image")
        for tag in image.iter("tag"):
            label = tag.attrib.get("label")
            if frame in tagged and tagged[frame] != label:
                raise ActlineError(path, f"image {frame} has two tags ({tagged[frame]!r}, {label!r}): one a frame")
            tagged[frame] = label
    out: list[tuple[int, int, str]] = []
    frames = sorted(tagged)
    for s, e, _ in runs([f - i for i, f in enumerate(frames)]):  # runs of consecutive frames
        for a, b, label in runs([tagged[f] for f in frames[s:e]]):
            out.append((frames[s + a], frames[s + b - 1], str(label)))
    return out
