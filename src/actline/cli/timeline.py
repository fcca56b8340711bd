"""Commands for timelines: features extract, train-timeline, timeline, score, analyze."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from actline.cli.app import app, features_app
from actline.cli.command import moved_to
from actline.cli.options import (
    choice,
    data_option,
    device_option,
    json_option,
    out_option,
    overwrite_option,
    quiet_option,
    ray_option,
    table_option,
    threads_option,
)
from actline.cli.render import (
    next_step,
    print_json,
    print_scores,
    print_timeline_metrics,
    print_timelines,
    print_value_stream,
    progress_for,
    say,
)


def _levels():
    from actline.data.segments import LEVELS

    return LEVELS


def _formats():
    from actline.infer.outputs import FORMATS

    return FORMATS


@app.command()
def score(
    pred: Path = typer.Argument(..., metavar="PRED",
                                help="Predicted timeline: a file (.json/.csv segments, .txt frame-wise) "
                                "or a directory of them."),
    gt: Path = typer.Argument(..., metavar="GT",
                              help="Ground truth in the same form (a directory: files matched by name)."),
    fps: float = typer.Option(30.0, help="Frame rate used to sample segment files."),
    bg: list[str] = typer.Option([], "--bg", help="Background class left out of Edit and F1 (repeatable)."),
    level: str = choice("label", "--level", _levels, "label|fine",
                        help="Segment files: score the label (coarse) or the fine level."),
    as_json: bool = json_option("Print per-video and aggregate values as JSON."),
    _table: Optional[str] = table_option(),
):
    """Frame accuracy, Edit, F1@{10,25,50} and mean IoU of predicted timelines against ground truth."""
    from actline.evaluate.timelines import score_timelines

    scores = score_timelines(pred, gt, fps, tuple(bg), level)
    if as_json:
        return print_json({"aggregate": scores.aggregate(), "per_video": scores.per_video})
    print_scores(scores, bg)


@features_app.command("extract")
def features_extract(
    inputs: list[Path] = typer.Argument(..., metavar="INPUTS",
                                        help="Videos, thermal recordings, or directories of them."),
    backbone: str = typer.Option("r3d_18", help="torchvision video model, registered model, or a trained model dir."),
    weights: str = typer.Option("KINETICS400_V1", help="Weight enum name, DEFAULT, a local .pth file, or none."),
    cache: Optional[Path] = typer.Option(None, help="Cache directory (default: $XDG_CACHE_HOME/actline/features)."),
    fps: float = typer.Option(8.0, help="Frames a second the backbone sees."),
    size: int = typer.Option(112, help="Frame size the backbone sees (pixels, square)."),
    chunk: int = typer.Option(16, help="Frames per chunk (one feature vector each)."),
    stride: int = typer.Option(16, help="Frames between the starts of chunks."),
    workers: int = typer.Option(1, help="Worker processes sharing the cache."),
    precision: str = typer.Option("fp32", metavar="fp32|bf16|auto", help="A video backbone's arithmetic: bf16 is "
                                  "about 4x faster on CPUs with AMX (auto: bf16 there), features within 0.3 %."),
    device: Optional[str] = device_option(),
    threads: int = threads_option(),
    quiet: bool = quiet_option(),
):
    """Compute (or find in the cache) the features of every chunk of every input.

    `--workers N` splits the inputs over N processes sharing one cache (each file computed once);
    under torchrun each rank takes its share.
    """
    from actline.data.video import VideoSpec
    from actline.features.cache import extract_many

    with progress_for(quiet or workers > 1) as progress:  # worker processes report nothing back until they finish
        r = extract_many(inputs, backbone, weights, VideoSpec(fps, size, chunk, stride), cache, workers, progress,
                         device or "auto", threads, precision)
    say(f"{r['files']} file(s), {r['chunks']} chunks of {r['dim']}-D features in {r['root']}: {r['hits']} from "
        f"cache, {r['misses']} computed, {r['corrupt']} corrupt entries recomputed")


@app.command("train-timeline")
@moved_to("--data")
def train_timeline_cmd(
    data: Optional[Path] = data_option("Clip folder CLIPS/<fine_label>/*.mp4, or a thermal data set with frame-wise "
                                       "labels (Nagoya layout; needs --backbone path/to/thermal/model).", False),
    out_dir: Optional[Path] = out_option("Model directory to write.", None),
    resume: Optional[Path] = typer.Option(None, help="Continue the interrupted run writing this directory from its "
                                          "last epoch checkpoint (its data and settings are reused)."),
    overwrite: bool = overwrite_option("a model at --out"),
    config: Optional[Path] = typer.Option(None, help="YAML config file."),
    backbone: Optional[str] = typer.Option(None, help="Feature backbone (default r3d_18)."),
    weights: Optional[str] = typer.Option(None, help="Backbone weights: enum name, local .pth, or none."),
    cache: Optional[Path] = typer.Option(None, help="Feature cache directory."),
    set_: list[str] = typer.Option([], "--set", help="Override any setting: --set temporal_model=temporal_mlp"),
    device: Optional[str] = device_option(),
    threads: int = threads_option(),
    quiet: bool = quiet_option(),
    as_json: bool = json_option("Print the metrics as JSON."),
    _table: Optional[str] = table_option(),
):
    """Train the two-stage timeline model (features, temporal model, per-family fine classifiers).

    A checkpoint is saved after every epoch under OUT/checkpoints; `--resume OUT` continues an
    interrupted run to the model an uninterrupted one gives.
    """
    from actline.runs.timeline_run import timeline_settings, train_timeline

    given = (("backbone", backbone), ("weights", weights), ("cache_dir", cache), ("device", device),
             ("num_threads", threads or None))
    overrides = [*set_, *(f"{k}={v}" for k, v in given if v is not None)]
    data, out_dir, cfg = timeline_settings(data, out_dir, config, overrides, resume)
    with progress_for(quiet) as progress:
        metrics = train_timeline(data, out_dir, cfg, progress=progress, resume=resume is not None, overwrite=overwrite)
    print_json(metrics) if as_json else print_timeline_metrics(metrics)
    say(f"wrote {out_dir}")
    next_step(f"actline timeline {out_dir} VIDEOS_OR_RECORDINGS --out TIMELINES")


@app.command()
def timeline(
    model_dir: Path = typer.Argument(..., metavar="MODEL",
                                     help="Timeline model directory (actline train-timeline), or its ONNX "
                                     "export (MODEL/onnx: runs with ONNX Runtime alone)."),
    inputs: list[Path] = typer.Argument(..., metavar="INPUTS",
                                        help="Videos, thermal recordings, or directories of them."),
    out_dir: Path = out_option("Directory for the outputs.", Path("timelines")),
    formats: list[str] = choice(["json", "csv"], "--format", _formats, "json|csv|srt|frames|overlay",
                                help="json, csv, srt, frames (MS-TCN text), overlay (mp4); repeatable."),
    median: Optional[int] = typer.Option(None, help="Median filter length in steps (1 = off)."),
    switch_penalty: Optional[float] = typer.Option(None, help="Viterbi switch cost in nats (0 = off)."),
    min_segment: Optional[float] = typer.Option(None, help="Minimum segment duration in s."),
    cache: Optional[Path] = typer.Option(None, help="Feature cache directory (default: none)."),
    device: Optional[str] = device_option(),
    threads: int = threads_option(),
    ray: Optional[str] = ray_option("inputs"),
    quiet: bool = quiet_option(),
    as_json: bool = json_option("Print each input's timeline and shares as JSON."),
    _table: Optional[str] = table_option(),
):
    """Turn long videos or recordings into two-level timelines (coarse family, fine action, value category)."""
    from actline.infer.outputs import TimelineJob, write_timelines

    job = TimelineJob(model_dir, out_dir, tuple(formats), {"median": median, "switch_penalty": switch_penalty,
                      "min_segment_s": min_segment}, cache, device or "auto", threads)
    job.pipeline()  # a bad model is refused before anything runs
    with progress_for(quiet) as progress:
        results = write_timelines(job, inputs, progress, cluster=ray)
    print_timelines(results, value_categories=job.pipeline().kind == "rgb", as_json=as_json)  # assembly steps


@app.command()
def analyze(
    timelines: list[Path] = typer.Argument(..., metavar="TIMELINES",
                                           help="Timeline files (.json/.csv) or directories of them."),
    out_dir: Path = out_option("Directory for summary.json, steps.csv, timelines.png."),
    as_json: bool = json_option("Print the summary as JSON."),
    _table: Optional[str] = table_option(),
):
    """Value-stream analytics: time and share per value category and step, cycle times, a timeline chart."""
    from actline.data.segments import read_timelines
    from actline.evaluate.valuestream import analyze as run_analysis
    from actline.evaluate.valuestream import write_report

    tls = read_timelines(timelines)
    summary = run_analysis(tls)
    written = write_report(summary, tls, out_dir)
    print_value_stream(summary, as_json)
    say(f"wrote {', '.join(str(w) for w in written)}")
