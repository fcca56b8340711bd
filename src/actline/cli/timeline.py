"""Commands for timelines: features extract, train-timeline, timeline, score, analyze."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from actline.cli.app import app, features_app
from actline.cli.render import err, out
from actline.core.errors import ActlineError


@app.command()
def score(
    pred: Path = typer.Argument(..., help="Predicted timeline: a file (.json/.csv segments, .txt frame-wise) "
                                "or a directory of them."),
    gt: Path = typer.Argument(..., help="Ground truth in the same form (a directory: files matched by name)."),
    fps: float = typer.Option(30.0, help="Frame rate used to sample segment files."),
    bg: list[str] = typer.Option([], "--bg", help="Background class left out of Edit and F1 (repeatable)."),
    level: str = typer.Option("label", help="Segment files: score the 'label' (coarse) or the 'fine' level."),
    as_json: bool = typer.Option(False, "--json", help="Print per-video and aggregate values as JSON."),
):
    """Frame accuracy, Edit, F1@{10,25,50} and mean IoU of predicted timelines against ground truth."""
    from actline.data.segments import load_labels
    from actline.metrics.segmentation import SegmentationScores

    pairs = _score_pairs(pred, gt)
    scores = SegmentationScores()
    for p, g in pairs:
        truth = load_labels(g, fps, level=level)
        scores.add(p.name, load_labels(p, fps, n_frames=len(truth) if p.suffix != ".txt" else None, level=level), truth,
                   bg=tuple(bg))
    agg = scores.aggregate()
    if as_json:
        print(json.dumps({"aggregate": agg, "per_video": scores.per_video}, indent=1))
        return
    t = Table(title=f"{len(pairs)} timeline(s), {agg['n_frames']} frames" + (f", background: {', '.join(bg)}" if bg else ""))
    for col in ("", "acc %", "edit", "F1@10", "F1@25", "F1@50", "mean IoU %"):
        t.add_column(col, justify="right" if col else "left")
    rows = list(scores.per_video.items()) if len(pairs) <= 20 else []
    for name, r in rows + [("[bold]all[/]", {**agg, "edit": agg["edit_mean"]})]:
        t.add_row(name, *[f"{r[k]:.2f}" for k in ("acc", "edit", "f1@0.1", "f1@0.25", "f1@0.5", "mean_iou")])
    out.print(t)


def _score_pairs(pred: Path, gt: Path) -> list[tuple[Path, Path]]:
    if pred.is_dir() != gt.is_dir():
        raise ActlineError(pred, "give two files or two directories")
    if not pred.is_dir():
        return [(pred, gt)]
    exts = (".txt", ".csv", ".json")  # where a name has several, segments (.json, then .csv) win over frame-wise .txt
    rank = {".json": 0, ".csv": 1, ".txt": 2}

    def by_stem(d: Path) -> dict[str, Path]:
        files = sorted((p for p in d.iterdir() if p.suffix in exts), key=lambda p: (p.stem, -rank[p.suffix]))
        return {p.stem: p for p in files}

    truth, preds = by_stem(gt), by_stem(pred)
    missing = sorted(set(truth) - set(preds))
    if missing:
        raise ActlineError(pred, f"no prediction for {len(missing)} ground-truth file(s), e.g. {missing[:3]}")
    if not truth:
        raise ActlineError(gt, "no .txt, .csv or .json timelines found")
    return [(preds[k], truth[k]) for k in sorted(truth)]


def _inputs(paths: list[Path], kind: str = "rgb") -> list[Path]:
    """Files as given; directories expanded to the videos (or thermal recordings) inside them."""
    from actline.data.chunks import THERMAL_SUFFIXES
    from actline.data.video import VIDEO_SUFFIXES

    suffixes = VIDEO_SUFFIXES if kind == "rgb" else THERMAL_SUFFIXES
    found = []
    for p in paths:
        if p.is_dir():
            found += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in suffixes)
        elif p.is_file():
            found.append(p)
        else:
            raise ActlineError(p, "file or directory not found")
    if not found:
        raise ActlineError(paths[0] if paths else None, "no videos or recordings found")
    return found


@features_app.command("extract")
def features_extract(
    inputs: list[Path] = typer.Argument(..., help="Videos, thermal recordings, or directories of them."),
    backbone: str = typer.Option("r3d_18", help="torchvision video model, registered model, or a trained model dir."),
    weights: str = typer.Option("KINETICS400_V1", help="Weight enum name, DEFAULT, a local .pth file, or none."),
    cache: Optional[Path] = typer.Option(None, help="Cache directory (default: $XDG_CACHE_HOME/actline/features)."),
    fps: float = typer.Option(8.0), size: int = typer.Option(112), chunk: int = typer.Option(16),
    stride: int = typer.Option(16),
    workers: int = typer.Option(1, help="Worker processes sharing the cache."),
):
    """Compute (or find in the cache) the features of every chunk of every input.

    `--workers N` splits the inputs over N processes sharing one cache (each file computed once);
    under torchrun each rank takes its share.
    """
    from actline.core.progress import progress_bar
    from actline.data.video import VideoSpec
    from actline.features.backbone import build_backbone
    from actline.features.cache import FeatureCache, extract_many
    from actline.train.timeline import default_cache_dir

    bb = build_backbone(backbone, weights)
    files = _inputs(inputs, bb.kind)
    root = cache or default_cache_dir()
    spec = VideoSpec(fps, size, chunk, stride)
    if workers > 1:
        with out.status(f"{len(files)} file(s) over {workers} worker processes"):
            r = extract_many(files, backbone, weights, spec, root, workers)
    else:
        fc, n = FeatureCache(root), 0
        with progress_bar(True) as bar:
            task = bar.add_task("files", total=len(files))
            for f in files:
                n += len(fc.get(f, bb, spec))
                bar.advance(task)
        r = {"files": len(files), "chunks": n, "hits": fc.hits, "misses": fc.misses, "corrupt": fc.corrupt}
    out.print(f"{r['files']} file(s), {r['chunks']} chunks of {bb.dim}-D features in {root}: {r['hits']} from cache, "
              f"{r['misses']} computed, {r['corrupt']} corrupt entries recomputed")


@app.command("train-timeline")
def train_timeline_cmd(
    clips: Path = typer.Argument(..., help="Clip folder CLIPS/<fine_label>/*.mp4, or a thermal data set with "
                                 "frame-wise labels (Nagoya layout; needs --backbone path/to/thermal/model)."),
    out_dir: Path = typer.Option(..., "--out", help="Model directory to write."),
    config: Optional[Path] = typer.Option(None, help="YAML config file."),
    backbone: Optional[str] = typer.Option(None, help="Feature backbone (default r3d_18)."),
    weights: Optional[str] = typer.Option(None, help="Backbone weights: enum name, local .pth, or none."),
    cache: Optional[Path] = typer.Option(None, help="Feature cache directory."),
    set_: list[str] = typer.Option([], "--set", help="Override any setting: --set temporal_model=temporal_mlp"),
    quiet: bool = typer.Option(False, help="No progress bars."),
):
    """Train the two-stage timeline model (features, temporal model, per-family fine classifiers)."""
    from actline.train.config import load_settings
    from actline.train.timeline import TimelineConfig, train_timeline

    overrides = list(set_)
    for key, value in (("backbone", backbone), ("weights", weights), ("cache_dir", cache)):
        if value is not None:
            overrides.append(f"{key}={value}")
    cfg = load_settings(TimelineConfig(), config, overrides).validate()
    if (clips / "frames").is_dir() or (clips / "annotation").is_dir():  # a thermal data set, not a clip folder
        from actline.data import load_dataset
        from actline.data.load import detect_format
        from actline.features.backbone import build_backbone
        from actline.train.timeline import train_timeline_recordings

        kw = {"unlabelled": cfg.background_class} if detect_format(clips) == "nagoya-csv" else {}
        ds = load_dataset(clips, **kw)
        m = train_timeline_recordings(ds, out_dir, cfg, build_backbone(cfg.backbone, cfg.weights),
                                      log=lambda msg: err.print(msg, highlight=False), progress=not quiet)
        out.print(f"trained on {m['train_recordings']} recordings; inner validation step accuracy "
                  f"{m['inner_val_step_accuracy']} on {m['inner_val_recordings']} recordings")
        out.print(f"wrote {out_dir}")
        return
    m = train_timeline(clips, out_dir, cfg, progress=not quiet, log=lambda msg: err.print(msg, highlight=False))
    t = Table(title=f"held-out clips: {m['held_out_clips']} (trained on {m['train_clips']})")
    for col in ("", "accuracy %", "majority %", "chance %"):
        t.add_column(col, justify="right" if col else "left")
    s1 = m["stage1"]
    t.add_row("coarse (stage 1)", f"{s1['clip_accuracy']:.1f}", f"{s1['majority']:.1f}", f"{s1['chance']:.1f}")
    if m["two_stage_fine_clip_accuracy"] is not None:
        t.add_row("fine (both stages)", f"{m['two_stage_fine_clip_accuracy']:.1f}", f"{m['fine_majority']:.1f}",
                  f"{m['fine_chance']:.1f}")
    for fam, f in m["stage2"].items():
        t.add_row(f"  {fam} ({f['fine_labels']} fine, {f['held_out_clips']} clips)", f"{f['clip_accuracy']:.1f}",
                  f"{f['majority']:.1f}", f"{100 / f['fine_labels']:.1f}")
    out.print(t)
    out.print(f"wrote {out_dir}")


@app.command()
def timeline(
    model_dir: Path = typer.Argument(..., help="Timeline model directory (actline train-timeline), or its ONNX "
                                     "export (MODEL/onnx: runs with ONNX Runtime alone)."),
    inputs: list[Path] = typer.Argument(..., help="Videos, thermal recordings, or directories of them."),
    out_dir: Path = typer.Option(Path("timelines"), "--out", help="Directory for the outputs."),
    formats: list[str] = typer.Option(["json", "csv"], "--format",
                                      help="json, csv, srt, frames (MS-TCN text), overlay (mp4); repeatable."),
    median: Optional[int] = typer.Option(None, help="Median filter length in steps (1 = off)."),
    switch_penalty: Optional[float] = typer.Option(None, help="Viterbi switch cost in nats (0 = off)."),
    min_segment: Optional[float] = typer.Option(None, help="Minimum segment duration in s."),
    cache: Optional[Path] = typer.Option(None, help="Feature cache directory (default: none)."),
    quiet: bool = typer.Option(False, help="No progress bars."),
):
    """Turn long videos or recordings into two-level timelines (coarse family, fine action, value category)."""
    from actline.core.progress import progress_bar
    from actline.data.segments import segments_to_frames, write_segments
    from actline.infer.overlay import render_overlay

    known = {"json", "csv", "srt", "frames", "overlay"}
    bad = sorted(set(formats) - known)
    if bad:
        raise ActlineError("--format", f"unknown format(s) {bad} (known: {', '.join(sorted(known))})")
    from actline.infer.onnx_timeline import OnnxTimeline

    if OnnxTimeline.is_export(model_dir):  # `actline export` output: ONNX Runtime, no torch needed
        ot = OnnxTimeline(model_dir)
        from dataclasses import replace

        dec = replace(ot.decoding, **{k: v for k, v in (("median", median), ("switch_penalty", switch_penalty),
                                                         ("min_segment_s", min_segment)) if v is not None})
        kind, fps = ot.kind, ot.spec.fps

        def make(f):
            return ot.timeline(f, dec)
    else:
        from actline.features.cache import FeatureCache
        from actline.infer.timeline import TimelineModel

        tm = TimelineModel.load(model_dir)
        dec = tm.with_decoding(median=median, switch_penalty=switch_penalty, min_segment_s=min_segment)
        fc = FeatureCache(cache) if cache else None
        kind, fps = tm.backbone.kind, tm.spec.fps

        def make(f):
            with progress_bar(not quiet) as bar:
                task = bar.add_task(f"features {f.name}", total=None) if bar else None
                feats = tm.features(f, fc, progress=(lambda n: bar.advance(task, n)) if bar else None)
            return tm.timeline(feats, dec)[0]
    files = _inputs(inputs, kind)
    t = Table(title=f"{len(files)} input(s)")
    cats = ("VA", "RNVA", "NVA") if kind == "rgb" else ()  # value categories belong to assembly steps
    for col in ("input", "duration s", "segments", *[f"{c} %" for c in cats]):
        t.add_column(col, justify="left" if col == "input" else "right")
    for f in files:
        segs = make(f)
        stem = out_dir / f.name.split(".")[0]
        written = []
        for fmt in formats:
            if fmt in ("json", "csv", "srt"):
                written.append(write_segments(stem.with_suffix(f".{fmt}"), segs))
            elif fmt == "frames":
                from actline.core.atomic import write_text

                n = int(round((segs[-1].end_s if segs else 0) * fps))
                written.append(write_text(stem.with_suffix(".txt"), "\n".join(segments_to_frames(segs, fps, n)) + "\n"))
        if "overlay" in formats:  # thermal recordings are drawn as heat maps
            with progress_bar(not quiet) as bar:
                task = bar.add_task(f"overlay {f.name}", total=None) if bar else None
                written.append(render_overlay(f, segs, stem.with_name(stem.name + "_overlay.mp4"),
                                              progress=(lambda n: bar.advance(task, n)) if bar else None))
        span = sum(s.end_s - s.start_s for s in segs) or 1.0
        share = {c: 100 * sum(s.end_s - s.start_s for s in segs if s.value_category == c) / span for c in cats}
        t.add_row(f.name, f"{segs[-1].end_s if segs else 0:.1f}", str(len(segs)), *[f"{share[c]:.1f}" for c in cats])
        err.print(f"wrote {', '.join(str(w) for w in written)}", highlight=False)
    out.print(t)


@app.command()
def analyze(
    timelines: list[Path] = typer.Argument(..., help="Timeline files (.json/.csv) or directories of them."),
    out_dir: Path = typer.Option(..., "--out", help="Directory for summary.json, steps.csv, timelines.png."),
):
    """Value-stream analytics: time and share per value category and step, cycle times, a timeline chart."""
    from actline.data.segments import read_segments
    from actline.evaluate.valuestream import analyze as run_analysis
    from actline.evaluate.valuestream import write_report

    files = []
    for p in timelines:
        files += sorted(f for f in p.iterdir() if f.suffix in (".json", ".csv")) if p.is_dir() else [p]
    if not files:
        raise ActlineError(timelines[0], "no .json or .csv timelines found")
    tls = {}
    for f in files:
        tls.setdefault(f.stem, read_segments(f))  # a .json and a .csv of the same timeline count once
    summary = run_analysis(tls)
    written = write_report(summary, tls, out_dir)
    t = Table(title=f"{summary['timelines']} timeline(s), {summary['total_s'] / 60:.1f} min")
    for col in ("value category", "time s", "share %"):
        t.add_column(col, justify="left" if col == "value category" else "right")
    for c, v in summary["value_categories"].items():
        t.add_row(c, f"{v['time_s']:.1f}", f"{v['share']:.1f}")
    out.print(t)
    s = Table(title="steps")
    for col in ("step", "category", "count", "time s", "share %", "mean s", "cycle s"):
        s.add_column(col, justify="left" if col in ("step", "category") else "right")
    for k, e in summary["steps"].items():
        s.add_row(k, e["value_category"], str(e["count"]), f"{e['time_s']:.1f}", f"{e['share']:.1f}",
                  f"{e['duration']['mean_s']:.1f}", f"{e['cycle_time']['mean_s']:.1f}" if e["cycle_time"]["n"] else "-")
    out.print(s)
    out.print(f"wrote {', '.join(str(w) for w in written)}")
