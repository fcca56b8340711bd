"""Labels made on a rendered video, mapped back to the sensor's frames through the video's sidecar.

Every video that ``actline data render`` writes has a sidecar ``<video stem>.frames.csv`` with one row per
video frame: ``video_frame,sensor_frame,timestamp_s`` (the sensor's frame index in its recording, and that
frame's timestamp on the sensor's clock). A labelling tool's export names video frames; the sidecar turns
them into sensor frames, and the recording's own timestamps into segment times. No frame rate is assumed
anywhere: sensors run at irregular rates with gaps, videos at a constant one.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from actline.core.atomic import write_text
from actline.core.errors import ActlineError
from actline.data.dataset import Recording
from actline.data.labels.labelled_segments import LabelledSegment, format_seconds, frames_to_segment, validate_segments
from actline.data.limits import ReadLimits, current_limits

SIDECAR_HEADER = ("video_frame", "sensor_frame", "timestamp_s")
SIDECAR_SUFFIX = ".frames.csv"


@dataclass
class VideoLabels:
    """The labels one task of a labelling tool's export gives one video: inclusive ranges of video frames
    (0-based) and their labels. ``names`` are the recording names the export may mean (its own record of
    the recording, the video's file name), in order of trust; ``where`` names the task or track for messages."""

    names: list[str]
    ranges: list[tuple[int, int, str]] = field(default_factory=list)
    where: str = ""


def sidecar_path(video: Path) -> Path:
    return video.with_name(video.name.split(".", 1)[0] + SIDECAR_SUFFIX)


def write_sidecar(path: Path, rec: Recording, sensor_frames: np.ndarray | None = None) -> Path:
    """One row per video frame; by default video frame k shows sensor frame k."""
    idx = np.arange(rec.n_frames) if sensor_frames is None else np.asarray(sensor_frames)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(SIDECAR_HEADER)
    for k, i in enumerate(idx):
        w.writerow([k, int(i), format_seconds(float(rec.timestamps[i]))])
    return write_text(path, buf.getvalue())


def read_sidecar(path: Path, limits: ReadLimits | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(sensor frame [n], sensor timestamp s [n]) of video frames 0..n-1, checked row by row."""
    path = Path(path)
    current_limits(limits).check_file_size(path)
    try:
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ActlineError(path, f"not a readable CSV ({exc})") from None
    if not rows or tuple(c.strip() for c in rows[0]) != SIDECAR_HEADER:
        raise ActlineError(path, f"line 1: expected the header {','.join(SIDECAR_HEADER)}")
    frames, times = [], []
    for n, row in enumerate(rows[1:], start=2):
        try:
            vf, sf, t = int(row[0]), int(row[1]), float(row[2])
        except (ValueError, IndexError):
            raise ActlineError(path, f"line {n}: expected video_frame,sensor_frame,timestamp_s numbers") from None
        if vf != n - 2 or sf < 0 or not np.isfinite(t):
            raise ActlineError(path, f"line {n}: video frame {vf} (expected {n - 2}), sensor frame {sf}, time {t}")
        frames.append(sf)
        times.append(t)
    if not frames:
        raise ActlineError(path, "no video frames listed")
    return np.array(frames, dtype=np.int64), np.array(times, dtype=np.float64)


def check_sidecar(path: Path, rec: Recording, sensor_frames: np.ndarray, times: np.ndarray) -> None:
    """The sidecar must describe ``rec``'s frames: the same indices and timestamps (to the millisecond)."""
    if sensor_frames.max() >= rec.n_frames:
        raise ActlineError(path, f"names sensor frame {int(sensor_frames.max())}, but recording {rec.id!r} has "
                                 f"{rec.n_frames} frames: the video was rendered from other recordings")
    off = np.abs(np.asarray(rec.timestamps)[sensor_frames] - times)
    if off.max() > 5e-4:
        k = int(off.argmax())
        raise ActlineError(path, f"line {k + 2}: sensor frame {int(sensor_frames[k])} is stamped {times[k]} here but "
                                 f"{rec.timestamps[sensor_frames[k]]} in {rec.source or rec.id}: the video was rendered "
                                 "from other recordings")


def labels_to_segments(rec: Recording, sidecar: Path, labels: VideoLabels, where, classes: list[str] | None = None,
                       limits: ReadLimits | None = None) -> list[LabelledSegment]:
    """Segments of ``rec`` from video-frame ranges: each range's sensor frames (through the sidecar) become one
    segment, from its first frame's time to the next frame's (:func:`frames_to_segment`)."""
    sensor_frames, times = read_sidecar(sidecar, limits)
    check_sidecar(sidecar, rec, sensor_frames, times)
    out = []
    for first, last, label in labels.ranges:
        if not 0 <= first <= last < len(sensor_frames):
            raise ActlineError(where, f"{labels.where}: video frames {first}-{last} are outside the video "
                                      f"(0-{len(sensor_frames) - 1}, {sidecar.name})")
        a, b = int(sensor_frames[first:last + 1].min()), int(sensor_frames[first:last + 1].max())
        out.append(frames_to_segment(rec, a, b, label))
    if classes is not None:
        unknown = sorted({s.label for s in out} - set(classes))
        if unknown:
            raise ActlineError(where, f"{labels.where}: unknown class(es) {unknown} (known: {', '.join(classes)})")
    try:
        return _merge_touching(validate_segments(out, {rec.id: rec}, classes, where))
    except ActlineError as exc:
        raise ActlineError(where, f"{labels.where} ({rec.id}): {exc.message}") from None


def _merge_touching(segs: list[LabelledSegment]) -> list[LabelledSegment]:
    """One segment for ranges of one label that meet end to start (a tool may split a run)."""
    out: list[LabelledSegment] = []
    for s in sorted(segs, key=lambda s: s.start_s):
        if out and out[-1].label == s.label and abs(out[-1].end_s - s.start_s) < 1e-9:
            out[-1] = LabelledSegment(s.recording, out[-1].start_s, s.end_s, s.label)
        else:
            out.append(s)
    return out
