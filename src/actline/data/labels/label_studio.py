"""Label Studio: the project files ``actline data render --tool label-studio`` writes, and the reader of
Label Studio's JSON export of video timeline labels.

Formats followed (Label Studio documentation, the versions that have the ``<TimelineLabels>`` tag):

- labelling config: ``<Video name="video" value="$video" frameRate="..."/>`` with
  ``<TimelineLabels name="label" toName="video"><Label value="..."/>...`` (docs: tags/timelinelabels,
  tags/video, templates/video_frame_classification);
- export "JSON" (docs: guide/export, "Label Studio JSON format of annotated tasks"): a list of tasks, each
  ``{"id", "data": {...}, "annotations": [{"result": [...], "was_cancelled": ...}]}``; a timeline result is
  ``{"type": "timelinelabels", "value": {"ranges": [{"start": s, "end": e}], "timelinelabels": ["label"]}}``
  where ``start`` and ``end`` are video frames counted from 1, both included (Label Studio's video timeline
  starts at frame 1; its ML backend's converter reads ``start - 1 .. end`` as a 0-based slice).

Checked against a running Label Studio 1.23.2 (tests/data/test_label_studio_live.py): it accepts the config,
serves the tasks file's URLs from a local-files storage, and its own export reads back to the frame.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse
from xml.sax.saxutils import quoteattr

from actline.core.atomic import write_json, write_text
from actline.core.errors import ActlineError
from actline.data.labels.video_labels import VideoLabels
from actline.data.limits import ReadLimits, current_limits

CONFIG_NAME, TASKS_NAME = "label-studio.xml", "label-studio-tasks.json"
LOCAL_FILES = "/data/local-files/?d="
_COLOURS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6", "#bcf60c", "#fabebe",
            "#008080", "#9a6324", "#800000", "#808000", "#000075"]
_UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-")  # Label Studio prefixes uploaded files with 8 hex digits and a dash


def labeling_config(classes: list[str], fps: float) -> str:
    labels = "\n".join(f"    <Label value={quoteattr(c)} background=\"{_COLOURS[i % len(_COLOURS)]}\"/>"
                       for i, c in enumerate(classes))
    return (f"<View>\n  <Header value=\"Label what the person does: pick a label, then click or drag on the timeline\"/>\n"
            f"  <Video name=\"video\" value=\"$video\" frameRate=\"{fps:g}\" timelineHeight=\"120\"/>\n"
            f"  <TimelineLabels name=\"label\" toName=\"video\">\n{labels}\n  </TimelineLabels>\n</View>\n")


def write_project(out: Path, classes: list[str], videos: list[str], fps: float, url_prefix: str) -> list[Path]:
    """The labelling config, and one task per video whose ``video`` URL is ``url_prefix`` + file name."""
    tasks = [{"data": {"video": f"{url_prefix}{v}", "recording": v.split(".", 1)[0]}} for v in videos]
    return [write_text(out / CONFIG_NAME, labeling_config(classes, fps)), write_json(out / TASKS_NAME, tasks)]


def read_label_studio_export(path: str | Path, limits: ReadLimits | None = None) -> list[VideoLabels]:
    """The timeline labels of every task of a Label Studio JSON export. Exports of other tools or formats
    (JSON-MIN, CSV, COCO, a CVAT file) and results that are not timeline labels are refused in one line."""
    path = Path(path)
    current_limits(limits).check_file_size(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ActlineError(path, f"not a Label Studio JSON export (not JSON: {exc})") from None
    if isinstance(doc, dict):
        kind = "a COCO file" if "images" in doc else "a single object"
        raise ActlineError(path, f"not a Label Studio JSON export ({kind}; expected the list of tasks of "
                                 "Export -> JSON)")
    if not isinstance(doc, list):
        raise ActlineError(path, "not a Label Studio JSON export (expected a list of tasks)")
    out = []
    for i, task in enumerate(doc):
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict) or "annotations" not in task:
            raise ActlineError(path, f"task {i + 1} has no 'data' and 'annotations': not Label Studio's JSON export "
                                     "(JSON-MIN and CSV exports drop what is needed; export as JSON)")
        out.append(_task_labels(path, i, task))
    return out


def _task_labels(path: Path, i: int, task: dict) -> VideoLabels:
    where = f"task {task.get('id', i + 1)}"
    annotations = task["annotations"]
    if not isinstance(annotations, list):
        raise ActlineError(path, f"{where}: 'annotations' must be a list")
    done = [a for a in annotations if isinstance(a, dict) and not a.get("was_cancelled")]
    labels = VideoLabels(names=_names(task["data"]), where=where)
    if not done:
        return labels
    latest = max(done, key=lambda a: str(a.get("updated_at") or a.get("created_at") or ""))
    result = latest.get("result")
    if not isinstance(result, list):
        raise ActlineError(path, f"{where}: annotation 'result' must be a list")
    for k, r in enumerate(result):
        if not isinstance(r, dict) or r.get("type") != "timelinelabels":
            kind = r.get("type") if isinstance(r, dict) else type(r).__name__
            raise ActlineError(path, f"{where} result {k + 1} is of type {kind!r}, not 'timelinelabels': label with "
                                     "the config actline writes (<TimelineLabels>, Label Studio versions that have it)")
        labels.ranges += _ranges(path, f"{where} result {k + 1}", r.get("value"))
    return labels


def _ranges(path: Path, where: str, value) -> list[tuple[int, int, str]]:
    if not isinstance(value, dict) or not isinstance(value.get("ranges"), list):
        raise ActlineError(path, f"{where}: value must hold 'ranges'")
    names = value.get("timelinelabels")
    if not isinstance(names, list) or len(names) != 1 or not isinstance(names[0], str):
        raise ActlineError(path, f"{where}: needs exactly one label in 'timelinelabels', got {str(names)[:60]}")
    out = []
    for rg in value["ranges"]:
        start, end = (rg.get("start"), rg.get("end")) if isinstance(rg, dict) else (None, None)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)) or not 1 <= start <= end:
            raise ActlineError(path, f"{where}: range {str(rg)[:60]} must have whole frames 1 <= start <= end")
        out.append((start - 1, end - 1, names[0]))  # frames counted from 1 -> video frames from 0
    return out


def _names(data: dict) -> list[str]:
    """Recording names a task may mean: the ``recording`` actline put in its tasks, then the video's file name
    (from a local-files URL's ``d`` or the URL's path, without Label Studio's upload prefix)."""
    names = [data["recording"]] if isinstance(data.get("recording"), str) else []
    video = data.get("video")
    if isinstance(video, str):
        url = urlparse(video)
        file = parse_qs(url.query).get("d", [url.path])[0]
        stem = unquote(file).replace("\\", "/").rsplit("/", 1)[-1].split(".", 1)[0]
        names += [stem, _UPLOAD_PREFIX.sub("", stem)]
    return list(dict.fromkeys(n for n in names if n))
