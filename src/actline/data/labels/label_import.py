"""``actline data import``: a labelled data set from your recordings and their labels.

Recordings come from a folder of files (:mod:`actline.data.recordings.recording_files`: HDF5, NPZ, Nagoya-style CSV);
labels from a segments CSV (:func:`actline.data.labels.read_segments_csv`), a Label Studio JSON export
(:mod:`actline.data.labels.label_studio`) or CVAT XML exports (:mod:`actline.data.labels.cvat`) of the videos that
``actline data render`` made, mapped back to sensor frames through the videos' sidecars
(:mod:`actline.data.labels.video_labels`). The result is written by :func:`actline.data.labels.write_labelled_dataset`:
all or nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

from actline.core.errors import ActlineError
from actline.data.dataset import Recording
from actline.data.labels.labelled_segments import KeyframeRule, LabelledSegment, read_segments_csv
from actline.data.labels.labelled_store import write_labelled_dataset
from actline.data.labels.render_video import MANIFEST
from actline.data.labels.video_labels import SIDECAR_SUFFIX, VideoLabels, labels_to_segments
from actline.data.limits import ReadLimits
from actline.data.recordings.recording_files import read_frames_folder, recordings_folder

SOURCES = ("segments", "label-studio", "cvat")


def import_labelled(out: str | Path, frames: str | Path, source: str | None = None, labels: list[Path] = (),
                    videos: str | Path | None = None, classes: list[str] | None = None,
                    rule: KeyframeRule = KeyframeRule(), overwrite: bool = False,
                    limits: ReadLimits | None = None) -> tuple[Path, dict]:
    """Write the data set at ``out`` and return it with a summary. ``source`` says what ``labels`` are:
    "segments" (one CSV), "label-studio" (one JSON export), "cvat" (one XML export per video), or None (no
    labels yet: the recordings alone, with ``classes``)."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise ActlineError(out, "already exists (use --overwrite to replace it)")
    recordings = read_frames_folder(recordings_folder(frames), limits)  # `--frames recordings` after --record
    if source is None:
        segments = []
    elif source == "segments":
        if len(labels) != 1:
            raise ActlineError("--segments", "give one segments CSV")
        segments = read_segments_csv(labels[0], recordings, classes, limits)
    elif source in ("label-studio", "cvat"):
        if videos is None:
            raise ActlineError(f"--{source}", "needs --videos: the folder actline data render wrote (with the sidecars)")
        classes = classes or _render_classes(Path(videos))
        segments = _tool_segments(source, labels, Path(videos), recordings, classes, limits)
    else:
        raise ActlineError("--source", f"unknown label source {source!r} (known: {', '.join(SOURCES)})")
    classes = classes or list(dict.fromkeys(s.label for s in segments))
    if not classes:
        raise ActlineError("--classes", "no labels and no classes: give --classes a,b,c")
    path = write_labelled_dataset(out, recordings, segments, classes, rule, overwrite=overwrite)
    counts = {c: sum(1 for s in segments if s.label == c) for c in classes}
    return path, {"recordings": len(recordings), "segments": len(segments),
                  "labelled_recordings": len({s.recording for s in segments}), "segments_per_class": counts}


def _tool_segments(source: str, exports: list[Path], videos: Path, recordings: dict[str, Recording],
                   classes: list[str] | None, limits: ReadLimits | None) -> list[LabelledSegment]:
    from actline.data.labels.cvat import read_cvat_export
    from actline.data.labels.label_studio import read_label_studio_export

    if not videos.is_dir():
        raise ActlineError(videos, "videos folder not found (the --out of actline data render)")
    if not exports:
        raise ActlineError(f"--{source}", "give the export file")
    sidecars = {p.name[:-len(SIDECAR_SUFFIX)]: p for p in videos.glob(f"*{SIDECAR_SUFFIX}")}
    if not sidecars:
        raise ActlineError(videos, f"no *{SIDECAR_SUFFIX} sidecars: not a folder actline data render wrote")
    segments, seen = [], {}
    for export in exports:
        tasks = read_label_studio_export(export, limits) if source == "label-studio" else [read_cvat_export(export, limits)]
        for task in tasks:
            name = _recording_of(export, task, sidecars, recordings)
            if name in seen:
                raise ActlineError(export, f"{task.where}: recording {name!r} is labelled twice (also in {seen[name]})")
            seen[name] = f"{export.name} {task.where}"
            segments += labels_to_segments(recordings[name], sidecars[name], task, export, classes, limits)
    return segments


def _recording_of(export: Path, task: VideoLabels, sidecars: dict[str, Path], recordings: dict[str, Recording]) -> str:
    for name in task.names:
        if name in sidecars and name in recordings:
            return name
    where = f"{task.where}: " if task.where else ""
    raise ActlineError(export, f"{where}no rendered recording matches {task.names or 'this task'} "
                               f"(rendered: {', '.join(sorted(sidecars)[:6])}; the frames folder must hold them too)")


def _render_classes(videos: Path) -> list[str] | None:
    path = videos / MANIFEST
    if not path.is_file():
        return None
    try:
        classes = json.loads(path.read_text(encoding="utf-8")).get("classes")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        raise ActlineError(path, "not a readable render.json") from None
    return classes if isinstance(classes, list) and all(isinstance(c, str) for c in classes) else None
