"""Timelines of many inputs, written in every format asked for (what ``actline timeline`` does).

Formats: ``json``, ``csv``, ``srt`` (segments, :func:`~actline.data.segments.write_segments`),
``frames`` (MS-TCN frame-wise text: one label per frame, :meth:`TimelinePipeline.frame_labels`) and
``overlay`` (an mp4 with the label banner and a timeline bar, :func:`~actline.infer.overlay.render_overlay`).
Each file is written atomically, and only once its timeline exists: an input that fails writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from actline.core.atomic import write_text
from actline.core.errors import ActlineError
from actline.core.progress import Progress
from actline.data.formats import find_inputs
from actline.data.segments import Segment, write_segments
from actline.features.cache import FeatureCache
from actline.infer.decoding import Decoding

SEGMENT_FORMATS = ("json", "csv", "srt")
FORMATS = (*SEGMENT_FORMATS, "frames", "overlay")


@dataclass
class TimelineOutput:
    source: Path
    segments: list[Segment]
    written: list[Path] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return self.segments[-1].end_s if self.segments else 0.0


def check_formats(formats: list[str]) -> None:
    bad = sorted(set(formats) - set(FORMATS))
    if bad:
        raise ActlineError("--format", f"unknown format(s) {bad} (known: {', '.join(sorted(FORMATS))})")


def write_timeline(pipe, source: Path, out_dir: Path, formats: list[str], decoding: Decoding | None = None,
                   cache: FeatureCache | None = None, progress: Progress | None = None) -> TimelineOutput:
    """The timeline of one input, written as ``out_dir/<name>.<format>``."""
    from actline.infer.overlay import render_overlay

    result = TimelineOutput(source, pipe.run(source, decoding, cache, progress))
    stem = Path(out_dir) / source.name.split(".")[0]
    for fmt in formats:
        if fmt in SEGMENT_FORMATS:
            result.written.append(write_segments(stem.with_suffix(f".{fmt}"), result.segments))
        elif fmt == "frames":
            labels = pipe.frame_labels(source, result.segments)
            result.written.append(write_text(stem.with_suffix(".txt"), "\n".join(labels) + "\n"))
    if "overlay" in formats:  # thermal recordings are drawn as heat maps
        result.written.append(render_overlay(source, result.segments, stem.with_name(stem.name + "_overlay.mp4"),
                                             progress=progress))
    return result


def write_timelines(pipe, inputs: list[Path], out_dir: Path, formats: list[str], decoding: Decoding | None = None,
                    cache_dir: Path | None = None, progress: Progress | None = None) -> list[TimelineOutput]:
    """Every video or recording in ``inputs`` (files or directories of them) → its timeline files."""
    check_formats(formats)
    files = find_inputs(inputs, pipe.kind)
    cache = FeatureCache(cache_dir) if cache_dir else None
    return [write_timeline(pipe, f, out_dir, formats, decoding, cache, progress) for f in files]
