"""Timelines of many inputs, written in every format asked for (what ``actline timeline`` does).

Formats: ``json``, ``csv``, ``srt`` (segments, :func:`~actline.data.segments.write_segments`),
``frames`` (MS-TCN frame-wise text: one label per frame, :meth:`TimelinePipeline.frame_labels`) and
``overlay`` (an mp4 with the label banner and a timeline bar, :func:`~actline.infer.overlay.render_overlay`).
Each file is written atomically, and only once its timeline exists: an input that fails writes nothing.
Its names depend only on the input's, so an input run twice (a Ray task retried after its worker
died) replaces its files, never adds to them. :func:`write_timelines` runs the inputs here or as
tasks on a Ray cluster (:func:`~actline.core.task_map.map_tasks`), each through :func:`timeline_task`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from actline.core.atomic import write_text
from actline.core.errors import ActlineError
from actline.core.progress import Progress
from actline.core.task_map import Job, map_tasks
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


@dataclass
class TimelineJob(Job):
    """What ``actline timeline`` does to each input: the model (loaded once per process), the decoding
    settings that replace the model's (``median``, ``switch_penalty``, ``min_segment_s``; None keeps the
    model's), where the files go and in which formats."""

    model: Path
    out_dir: Path
    formats: tuple[str, ...] = ("json", "csv")
    decoding: dict = field(default_factory=dict)
    cache_dir: Path | None = None
    device: str = "auto"
    threads: int = 0

    def pipeline(self):
        from actline.infer.timeline_pipeline import TimelinePipeline

        return self.once("pipeline", lambda: TimelinePipeline.load(self.model, device=self.device,
                                                                   threads=self.threads))


def timeline_task(job: TimelineJob, source: Path, progress: Progress | None = None) -> TimelineOutput:
    """One input of a :class:`TimelineJob`: its timeline, written in every format asked for."""
    pipe = job.pipeline()
    cache = job.once("cache", lambda: FeatureCache(job.cache_dir)) if job.cache_dir else None
    return write_timeline(pipe, source, job.out_dir, list(job.formats), pipe.with_decoding(**job.decoding), cache,
                          progress)


def write_timelines(job: TimelineJob, inputs: list[Path], progress: Progress | None = None,
                    cluster: str | None = None) -> list[TimelineOutput]:
    """Every video or recording in ``inputs`` (files or directories of them) → its timeline files; here, or as
    tasks on the Ray cluster at ``cluster``."""
    check_formats(list(job.formats))
    files = find_inputs(inputs, job.pipeline().kind)
    return list(map_tasks(timeline_task, files, job, cluster=cluster, progress=progress, name="inputs",
                          cpus=job.threads or 1))
