"""``actline data render``: one MP4 per recording for labelling in a video tool, each with its sidecar, and
the project files the tool opens.

Each sensor frame becomes one video frame, shown for ``1 / video_fps`` seconds: the video runs at a
constant rate whatever the sensor did, and the sidecar (``<recording>.frames.csv``) says which sensor frame,
at which time on the sensor's clock, each video frame shows. Frames are heat maps on one fixed
temperature scale (:mod:`actline.data.labels.heatmap`), enlarged, with the sensor's clock, the time since the
recording's first frame and the frame's index burned in. H.264 where PyAV has it (what browsers play),
MPEG-4 part 2 otherwise.

The output folder also holds ``render.json`` (classes, video rate, scale, recordings) and, for
``tool="label-studio"``, the labelling config and tasks (:mod:`actline.data.labels.label_studio`); for
``tool="cvat"``, the label list (:mod:`actline.data.labels.cvat`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from actline.core.atomic import atomic_dir, write_json
from actline.core.errors import ActlineError
from actline.data.dataset import Recording
from actline.data.labels.heatmap import frame_text, labelling_frame, layout
from actline.data.labels.labelled_segments import relative_times
from actline.data.labels.video_labels import SIDECAR_SUFFIX, write_sidecar

TOOLS = ("label-studio", "cvat")
MANIFEST = "render.json"


@dataclass(frozen=True)
class RenderSpec:
    video_fps: float = 10.0  # video frames a second: one sensor frame each
    scale_c: tuple[float, float] = (15.0, 40.0)  # the fixed colour scale, °C
    zoom: int = 8  # each sensor pixel becomes zoom x zoom video pixels
    tool: str = "label-studio"
    url_prefix: str | None = None  # Label Studio tasks: the videos' URL up to the file name

    def __post_init__(self):
        if not 1 <= self.video_fps <= 120:
            raise ActlineError("--video-fps", f"must be 1-120 frames a second, got {self.video_fps}")
        if not (np.isfinite(self.scale_c).all() and self.scale_c[0] < self.scale_c[1]):
            raise ActlineError("--scale", f"must be two temperatures, the lower first, got {self.scale_c}")
        if not 1 <= self.zoom <= 32:
            raise ActlineError("--zoom", f"must be 1-32, got {self.zoom}")
        if self.tool not in TOOLS:
            raise ActlineError("--tool", f"unknown tool {self.tool!r} (known: {', '.join(TOOLS)})")


def video_codec() -> str:
    """libx264 (H.264, what browsers play) if this PyAV build encodes it, else mpeg4."""
    import av

    try:
        av.codec.Codec("libx264", "w")
        return "libx264"
    except Exception:  # noqa: BLE001 - PyAV raises its own errors for a missing encoder
        return "mpeg4"


def render_recording(rec: Recording, out_dir: Path, spec: RenderSpec = RenderSpec(), codec: str | None = None) -> Path:
    """``<out_dir>/<recording>.mp4`` and its sidecar; returns the video's path."""
    from actline.data.video import write_video

    rel, ts = relative_times(rec), np.asarray(rec.timestamps, dtype=np.float64)
    n = rec.n_frames
    size = layout(rec.frames.shape[1:], frame_text(ts[-1], rel[-1], n - 1), spec.zoom)
    frames = (labelling_frame(rec.frames[i], frame_text(ts[i], rel[i], i), size, spec.scale_c, spec.zoom)
              for i in range(n))
    video = write_video(out_dir / f"{rec.id}.mp4", frames, fps=spec.video_fps, codec=codec or video_codec())
    write_sidecar(out_dir / f"{rec.id}{SIDECAR_SUFFIX}", rec)
    return video


def render_recordings(recordings: dict[str, Recording], classes: list[str], out: str | Path,
                      spec: RenderSpec = RenderSpec(), overwrite: bool = False, progress=None) -> Path:
    """Render every recording into a new folder ``out`` (atomically), with the tool's project files."""
    from actline.data.labels import cvat, label_studio

    out = Path(out)
    if not classes:
        raise ActlineError("--classes", "no classes to label with: give --classes a,b,c (or render a data set that has them)")
    if out.exists() and not overwrite:
        raise ActlineError(out, "already exists (use --overwrite to replace it)")
    codec = video_codec()
    with atomic_dir(out, overwrite=overwrite) as tmp:
        videos = []
        for name, rec in sorted(recordings.items()):
            videos.append(render_recording(rec, tmp, spec, codec).name)
            if progress:
                progress(name)
        if spec.tool == "label-studio":
            prefix = spec.url_prefix if spec.url_prefix is not None else f"{label_studio.LOCAL_FILES}{out.name}/"
            label_studio.write_project(tmp, classes, videos, spec.video_fps, prefix)
        else:
            cvat.write_labels(tmp, classes)
        write_json(tmp / MANIFEST, {"classes": classes, "video_fps": spec.video_fps, "scale_c": list(spec.scale_c),
                                    "zoom": spec.zoom, "codec": codec, "tool": spec.tool,
                                    "recordings": {Path(v).stem: v for v in videos}})
    return out


def render_input(data: str | Path) -> tuple[dict[str, Recording], list[str]]:
    """The recordings and classes to render from ``data``: a data set (its ``frames/`` and class mapping) or a
    folder of recording files (no classes)."""
    from actline.data.coco import read_class_mapping
    from actline.data.recordings.recording_files import read_frames_folder

    data = Path(data)
    if not data.is_dir():
        raise ActlineError(data, "data set or folder of recordings not found")
    if (data / "frames").is_dir():
        mapping = data / "annotations" / "class_mapping.json"
        classes = read_class_mapping(mapping)[0] if mapping.is_file() else []
        return read_frames_folder(data / "frames"), classes
    return read_frames_folder(data), []
