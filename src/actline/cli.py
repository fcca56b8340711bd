"""Command line: a thin layer that parses arguments and calls the functions the tests call."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from actline.errors import ActlineError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="actline: action recognizers and action timelines from small recordings.")
data_app = typer.Typer(no_args_is_help=True, help="Look at data sets.")
app.add_typer(data_app, name="data")
features_app = typer.Typer(no_args_is_help=True, help="Backbone features per chunk, cached on disk.")
app.add_typer(features_app, name="features")
out = Console()
err = Console(stderr=True)


@app.command()
def synth(
    out_dir: Path = typer.Argument(..., help="Directory to create (ThermalDataGen layout)."),
    recordings: int = typer.Option(8, help="Number of recordings (sensors/rooms)."),
    duration: float = typer.Option(150.0, help="Seconds per recording."),
    seed: int = typer.Option(0, help="Random seed: the same seed writes the same data."),
    force: bool = typer.Option(False, help="Replace OUT_DIR if it exists."),
):
    """Write a synthetic thermal data set in the ThermalDataGen format (frames/*.h5 + COCO keyframes)."""
    from actline.data.synth_thermal import SynthConfig, generate_thermal_dataset

    if out_dir.exists() and not force:
        raise ActlineError(out_dir, "already exists (use --force to replace it)")
    with out.status(f"generating {recordings} synthetic recordings"):
        path = generate_thermal_dataset(out_dir, SynthConfig(n_recordings=recordings, duration_s=duration, seed=seed),
                                        overwrite=force)
    out.print(f"wrote {path}")


@data_app.command("inspect")
def data_inspect(
    data_dir: Path = typer.Argument(..., help="Data set directory (ThermalDataGen or Nagoya layout)."),
    window: int = typer.Option(64, help="Window length in frames."),
    window_mode: str = typer.Option("index", help="'index' (consecutive frames) or 'time' (resampled)."),
    window_fps: float = typer.Option(10.0, help="Frame rate of time-based windows."),
    montage: Optional[Path] = typer.Option(None, help="Write a PNG montage of example windows per class here."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
):
    """Recordings, frames, duration, fps spread, invalid pixels, classes per split, overlap warnings."""
    from actline.data import load_dataset
    from actline.data.inspect import render_montage, summarize

    spec = _window_spec(window, window_mode, window_fps)
    ds = load_dataset(data_dir)
    summary = summarize(ds, spec)
    if as_json:
        out.print_json(json.dumps(summary))
    else:
        print_summary(summary)
    if montage:
        render_montage(ds, montage, spec)
        err.print(f"wrote {montage}")


def _window_spec(length: int, mode: str, fps: float):
    from actline.data import WindowSpec

    try:
        return WindowSpec(length=length, mode=mode, fps=fps)
    except ValueError as exc:
        raise ActlineError("--window", str(exc)) from None


def print_summary(s: dict) -> None:
    out.print(f"[bold]{s['name']}[/] ({s['format']}): {s['n_recordings']} recordings, {s['total_frames']} frames, "
              f"{s['total_duration_s'] / 60:.1f} min, {s['n_samples']} labelled windows")
    t = Table(title="recordings", show_lines=False)
    for col in ("id", "group", "frames", "duration s", "fps (median)", "interval ms min-max", "gaps>1s",
                "frames w/ invalid px", "max °C", "samples"):
        t.add_column(col, justify="right" if col not in ("id", "group") else "left")
    for r in s["recordings"]:
        t.add_row(r["id"], r["group"], str(r["frames"]), f"{r['duration_s']:.1f}", str(r["fps_median"]),
                  f"{r['interval_ms_min']}-{r['interval_ms_max']}", str(r["gaps_over_1s"]),
                  f"{100 * r['frames_with_invalid_pixels']:.1f}%", f"{r['max_c']:.1f}", str(r["samples"]))
    out.print(t)
    t = Table(title=f"classes (imbalance max/min {s['imbalance_ratio']}, majority {100 * (s['majority_share'] or 0):.1f}%)")
    t.add_column("class")
    t.add_column("all", justify="right")
    split_cols = []
    for name, sp in s["splits"].items():
        if "error" in sp:
            continue
        t.add_column(f"{name} train", justify="right")
        t.add_column(f"{name} eval", justify="right")
        split_cols.append(sp)
    for cls in s["classes"]:
        row = [cls, str(s["class_counts"][cls])]
        for sp in split_cols:
            row += [str(sp["train_counts"][cls]), str(sp["eval_counts"][cls])]
        t.add_row(*row)
    out.print(t)
    for name, sp in s["splits"].items():
        if "error" in sp:
            out.print(f"split {name}: not available ({sp['error']})")
        elif sp["warning"]:
            out.print(f"[bold red]{sp['warning']}[/]")
        else:
            out.print(f"split {name}: {sp['n_train']} train / {sp['n_eval']} eval windows, no overlap")
    for w in s["warnings"]:
        out.print(f"[yellow]warning:[/] {w}")


@app.command()
def train(
    data: Optional[Path] = typer.Option(None, "--data", help="Data set directory."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Run directory to write (metrics.json, model/, plots)."),
    resume: Optional[Path] = typer.Option(None, help="Continue an interrupted run from its last epoch checkpoint "
                                          "(its config and data are reused)."),
    split: Optional[str] = typer.Option(None, help="given | by-recording | kfold (default: by-recording)."),
    model: Optional[str] = typer.Option(None, help="Model name (see `actline models`)."),
    config: Optional[Path] = typer.Option(None, help="YAML config file."),
    seeds: Optional[int] = typer.Option(None, help="Train K models and evaluate their averaged predictions."),
    epochs: Optional[int] = typer.Option(None, help="Epochs (overrides the config)."),
    pretrained: Optional[str] = typer.Option(None, "--weights", help="Pretrained weights: a torchvision enum name, "
                                             "or a local file (torchvision .pth, MMAction2/PyTorchVideo SlowFast)."),
    set_: list[str] = typer.Option([], "--set", help="Override any setting: --set lr=1e-3 --set augment.hflip=0"),
    quiet: bool = typer.Option(False, help="No progress bar."),
    devices: int = typer.Option(1, help="Processes on this machine (DistributedDataParallel; gloo on CPUs, NCCL on "
                                "GPUs)."),
    num_nodes: int = typer.Option(1, help="Machines taking part; more than one is launched by torchrun (see README)."),
):
    """Train a clip classifier, evaluate it on the split's held-out part beside baselines, save the run.

    A checkpoint is saved after every epoch; `--resume RUN` continues an interrupted run to the
    same result an uninterrupted one gives.
    """
    from actline.train.config import load_config
    from actline.train.run import train_run

    if resume is not None:
        if not (resume / "config.yaml").is_file() or not (resume / "run.json").is_file():
            raise ActlineError(resume, "not an actline training run (no config.yaml and run.json)")
        config = config or resume / "config.yaml"
        data = data or Path(json.loads((resume / "run.json").read_text())["data"])
        out_dir = out_dir or resume
    if data is None or out_dir is None:
        raise ActlineError("train", "--data and --out are required (or --resume RUN)")
    overrides = list(set_)
    for key, value in (("split", split), ("model", model), ("seeds", seeds), ("epochs", epochs),
                       ("pretrained", pretrained)):
        if value is not None:
            overrides.append(f"{key}={value}")
    cfg = load_config(config, overrides)
    from actline.train.distributed import run_distributed, under_torchrun

    if num_nodes > 1 and not under_torchrun():
        raise ActlineError("--num-nodes", f"{num_nodes} machines: start this command on each with torchrun, e.g. "
                           f"torchrun --nnodes {num_nodes} --nproc-per-node {devices} --rdzv-backend c10d "
                           "--rdzv-endpoint HOST:29500 -m actline.cli train ...")
    if devices > 1 or under_torchrun():
        run_distributed(_train_rank, (str(data), str(out_dir), cfg, quiet, resume is not None), devices)
        if int(os.environ.get("RANK", "0")) != 0:  # under torchrun only rank 0 reports
            return
        metrics = json.loads((out_dir / "metrics.json").read_text())
    else:
        metrics = train_run(data, out_dir, cfg, progress=not quiet, log=lambda m: err.print(m, highlight=False),
                            resume=resume is not None)
    print_metrics(metrics)
    out.print(f"wrote {out_dir / 'metrics.json'} and {out_dir / 'model'}")


def _train_rank(data: str, out_dir: str, cfg, quiet: bool, resume: bool) -> None:
    """One rank of a distributed `actline train` (module level, so that spawned processes can import it)."""
    from actline.train.run import train_run

    train_run(data, out_dir, cfg, progress=not quiet, log=lambda m: err.print(m, highlight=False), resume=resume)


@app.command()
def evaluate(
    model_dir: Path = typer.Argument(..., help="Model directory (RUN/model)."),
    data: Path = typer.Option(..., "--data", help="Data set directory."),
    split: Optional[str] = typer.Option(None, help="Split (default: the one the model was trained with)."),
    out_json: Optional[Path] = typer.Option(None, "--out", help="Write metrics JSON here."),
):
    """Evaluate a saved model on a data set split, beside the baselines."""
    from actline.atomic import write_json
    from actline.train.run import evaluate_model_dir

    metrics = evaluate_model_dir(model_dir, data, split)
    print_metrics(metrics)
    if out_json:
        write_json(out_json, metrics)
        out.print(f"wrote {out_json}")


@app.command()
def predict(
    model_dir: Path = typer.Argument(..., help="Model directory (RUN/model)."),
    recording: Path = typer.Argument(..., help="A recording file (frames/<sensor_id>.h5)."),
    stride: Optional[int] = typer.Option(None, help="Sliding windows every STRIDE frames (default: the "
                                         "annotated keyframes if the data set has them, else half a window)."),
    top_k: int = typer.Option(3, help="How many classes to list per window."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON lines instead of a table."),
    device: str = typer.Option("cpu", help="cpu or cuda."),
):
    """Predict actions for the keyframes or sliding windows of one recording."""
    from actline.data.thermal_h5 import read_recording_h5
    from actline.infer import Recognizer

    rec_obj = Recognizer.load(model_dir, device=device)
    rec = read_recording_h5(recording)
    centres, truth = None, {}
    if stride is None:
        centres, truth = _keyframes_for(recording, rec)
    preds = rec_obj.predict_recording(rec, centres=centres, stride=stride, k=top_k)
    if as_json:
        for idx, t, p in preds:
            print(json.dumps({"frame_idx": idx, "time_s": round(t, 3), **p.to_dict(),
                              **({"true": truth[idx]} if idx in truth else {})}))
        return
    t = Table(title=f"{recording.name}: {len(preds)} windows ({'keyframes' if centres else 'sliding'})")
    for col in ("frame", "time s", "prediction", "conf", "top-k") + (("true",) if truth else ()):
        t.add_column(col)
    t0 = float(rec.timestamps[0])
    for idx, ts, p in preds:
        row = [str(idx), f"{ts - t0:.1f}", p.label, f"{p.confidence:.2f}",
               ", ".join(f"{c} {v:.2f}" for c, v in p.topk[1:])]
        if truth:
            row.append(truth.get(idx, ""))
        t.add_row(*row)
    out.print(t)


def _keyframes_for(recording: Path, rec):
    """Annotated keyframes of this recording when it sits in a ThermalDataGen directory."""
    root = recording.resolve().parent.parent
    if not (root / "annotations" / "class_mapping.json").is_file():
        return None, {}
    from actline.data.thermal_h5 import read_thermal_dataset

    try:
        ds = read_thermal_dataset(root)
    except ActlineError:
        return None, {}
    samples = sorted((s for s in ds.samples if s.recording_id == rec.id), key=lambda s: s.frame_idx)
    if not samples:
        return None, {}
    return [s.frame_idx for s in samples], {s.frame_idx: ds.classes[s.label] for s in samples}


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
    from actline.evaluate.segmentation import SegmentationScores
    from actline.timeline import load_labels

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


@app.command("models")
def models_cmd():
    """List the registered model names."""
    from actline.models import list_models

    for name in list_models():
        out.print(name)


def print_metrics(m: dict) -> None:
    """The model's figures with intervals, beside every baseline on the same split."""
    if m["split"].get("warning"):
        out.print(f"[bold red]{m['split']['warning']}[/]")
    t = Table(title=f"split {m['split']['name']}: {m['n']} evaluation windows "
                    f"({m['split']['n_train']} training windows)")
    for col in ("", "top-1 %", "top-5 %", "mean class acc %", "macro-F1 %"):
        t.add_column(col, justify="right" if col else "left")
    keys = ("top1", "top5", "mean_class_accuracy", "macro_f1")
    ci = m.get("ci95", {})
    t.add_row(f"[bold]{m.get('model', 'model')}[/]" + (f" x{m['seeds']}" if m.get("seeds", 1) > 1 else ""),
              *[f"{m[k]:.1f} [{ci[k][0]:.0f}-{ci[k][1]:.0f}]" if k in ci else f"{m[k]:.1f}" for k in keys])
    for name, b in m["baselines"].items():
        label = name + (f" ({b['model']})" if "model" in b else "")
        t.add_row(label, *[f"{b[k]:.1f}" for k in keys])
    out.print(t)
    out.print("[dim]brackets: bootstrap 95% interval over evaluation windows[/]")


@app.command()
def demo(
    out_dir: Path = typer.Option(Path("runs/demo"), "--out", help="Where the demo writes its data and results."),
    seed: int = typer.Option(0, help="Random seed."),
    epochs: int = typer.Option(40, help="Training epochs."),
    recordings: int = typer.Option(8, help="Synthetic recordings to generate."),
    duration: float = typer.Option(150.0, help="Seconds per synthetic recording."),
):
    """The main job on the embedded default: synthetic thermal data -> train -> evaluate -> predict."""
    from actline.data import load_dataset
    from actline.data.inspect import render_montage, summarize
    from actline.data.synth_thermal import SynthConfig, generate_thermal_dataset
    from actline.infer import Recognizer
    from actline.train.config import load_config
    from actline.train.run import train_run

    data_dir = out_dir / "data"
    with out.status("generating synthetic thermal data set"):
        generate_thermal_dataset(data_dir, SynthConfig(n_recordings=recordings, duration_s=duration, seed=seed),
                                 overwrite=True)
    out.print(f"wrote synthetic data set to {data_dir}")
    ds = load_dataset(data_dir)
    print_summary(summarize(ds))
    render_montage(ds, out_dir / "montage.png")
    out.rule("training on whole recordings, evaluating on recordings the model has never seen")
    cfg = load_config(None, [f"epochs={epochs}", f"seed={seed}"])
    metrics = train_run(ds, out_dir / "run", cfg, log=lambda m: err.print(m, highlight=False))
    print_metrics(metrics)
    held_out = sorted(_eval_recordings(out_dir / "run") - set(metrics["split"]["shared_recordings"]))
    rec = ds.recordings[held_out[0]]
    recog = Recognizer.load(out_dir / "run" / "model")
    samples = sorted((s for s in ds.samples if s.recording_id == rec.id), key=lambda s: s.frame_idx)
    preds = recog.predict_recording(rec, centres=[s.frame_idx for s in samples])
    t = Table(title=f"predictions on held-out recording {rec.id} ({len(preds)} keyframes)")
    for col in ("time s", "true", "predicted", "confidence"):
        t.add_column(col)
    hits = 0
    for s, (_, ts, p) in zip(samples, preds):
        ok = p.label == ds.classes[s.label]
        hits += ok
        t.add_row(f"{ts - rec.timestamps[0]:.1f}", ds.classes[s.label], ("" if ok else "[red]") + p.label,
                  f"{p.confidence:.2f}")
    out.print(t)
    out.print(f"{hits}/{len(preds)} keyframes right on this recording")
    from actline.report import build_report

    report_path = build_report(out_dir / "run", out_dir / "report.html")
    out.print(f"wrote {out_dir / 'montage.png'}, {out_dir / 'run' / 'metrics.json'}, {out_dir / 'run' / 'model'}")
    out.print(f"[bold]report: {report_path.resolve()}[/] (open it in a browser; it needs no server)")


@app.command("synth-video")
def synth_video(
    out_dir: Path = typer.Argument(..., help="Directory to create: clips/<fine_label>/*.mp4 and long/*.mp4 + .csv."),
    clips_per_action: int = typer.Option(6, help="Clips per fine action."),
    long_videos: int = typer.Option(2, help="Long videos with a ground-truth timeline."),
    long_seconds: float = typer.Option(60.0, help="Seconds per long video."),
    seed: int = typer.Option(0, help="Random seed."),
    force: bool = typer.Option(False, help="Write into OUT_DIR even if it exists."),
):
    """Write synthetic assembly-line clips in the seed's folder layout, and long videos with known timelines."""
    from actline.data.synth_rgb import RGBSynthConfig, generate_rgb_dataset

    if out_dir.exists() and not force:
        raise ActlineError(out_dir, "already exists (use --force to write into it)")
    with out.status("rendering synthetic videos"):
        generate_rgb_dataset(out_dir, RGBSynthConfig(clips_per_action=clips_per_action, long_videos=long_videos,
                                                     long_seconds=long_seconds, seed=seed))
    out.print(f"wrote {out_dir / 'clips'} and {out_dir / 'long'}")


def _inputs(paths: list[Path], kind: str = "rgb") -> list[Path]:
    """Files as given; directories expanded to the videos (or thermal recordings) inside them."""
    from actline.data.video import VIDEO_SUFFIXES
    from actline.data.chunks import THERMAL_SUFFIXES

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
    from actline.data.video import VideoSpec
    from actline.features import FeatureCache, build_backbone, extract_many
    from actline.progress import progress_bar
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
        from actline.features import build_backbone
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
    from actline.infer.overlay import render_overlay
    from actline.progress import progress_bar
    from actline.timeline import segments_to_frames, write_segments

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
        from actline.features import FeatureCache
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
                from actline.atomic import write_text

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
    from actline.evaluate.valuestream import analyze as run_analysis
    from actline.evaluate.valuestream import write_report
    from actline.timeline import read_segments

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


@app.command()
def export(
    model_dir: Path = typer.Argument(..., help="A clip-classifier or timeline model directory."),
    fmt: str = typer.Option("onnx", "--format", help="Only onnx for now."),
    out_path: Optional[Path] = typer.Option(None, "--out", help="Default: MODEL/model.onnx (classifier), MODEL/onnx/ "
                                            "(timeline)."),
    atol: float = typer.Option(1e-4, help="Largest allowed difference of the probabilities, ONNX Runtime vs PyTorch."),
):
    """Export for ONNX Runtime with classes and preprocessing in the metadata; verified before success."""
    from actline.export import export_model

    if fmt != "onnx":
        raise ActlineError("--format", f"unknown export format {fmt!r} (known: onnx)")
    r = export_model(model_dir, out_path, atol)
    out.print(f"wrote {r['path']} (ONNX Runtime vs PyTorch: largest probability difference {r['max_abs_diff']:.1e})")


@app.command()
def stream(
    model: Path = typer.Argument(..., help="Model directory, or an exported .onnx file (runs without torch)."),
    replay: Path = typer.Option(..., help="Recording to replay as a live sensor (.h5, Nagoya .csv/.csv.gz)."),
    speed: float = typer.Option(1.0, help="Replay speed (0: as fast as possible)."),
    events_out: Optional[Path] = typer.Option(None, "--events", help="Also write events as JSON lines here."),
    collect: Optional[Path] = typer.Option(None, help="Save uncertain or contradicted windows here for relabelling."),
    alert: list[str] = typer.Option([], help="CLASS=SECONDS: alert when CLASS is held that long (repeatable)."),
    every: Optional[int] = typer.Option(None, help="Run the model every N frames (default: a quarter window)."),
    ema: float = typer.Option(0.5, help="Weight of the newest probabilities in the moving average."),
    enter: float = typer.Option(0.6, help="Smoothed probability to enter a state."),
    exit_: float = typer.Option(0.4, "--exit", help="Smoothed probability below which a state is left."),
):
    """Replay a recording frame by frame as a live sensor would, printing state changes and alerts."""
    import time

    from actline.data.chunks import read_thermal_recording
    from actline.infer import Recognizer
    from actline.stream import FailureCollector, StreamConfig, StreamingRecognizer

    recog = Recognizer.load(model)
    alerts = {}
    for a in alert:
        name, _, secs = a.rpartition("=")
        try:
            alerts[name] = float(secs)
        except ValueError:
            raise ActlineError("--alert", f"expected CLASS=SECONDS, got {a!r}") from None
    cfg = StreamConfig(every_frames=every, ema=ema, enter=enter, exit=exit_,
                       alerts=alerts or {c: 10.0 for c in recog.classes if "risk" in c or c.startswith("fall")})
    collector = FailureCollector(collect, recog.classes) if collect else None
    sr = StreamingRecognizer(recog, cfg, collector)
    rec = read_thermal_recording(replay)
    sink = open(events_out, "w", encoding="utf-8") if events_out else None  # noqa: SIM115 - appended live
    t0_wall, t0 = time.monotonic(), float(rec.timestamps[0])
    n_events = 0
    try:
        for frame, ts in zip(rec.frames, rec.timestamps):
            if speed > 0:
                time.sleep(max(0.0, (ts - t0) / speed - (time.monotonic() - t0_wall)))
            for ev in sr.push(frame, float(ts) - t0):
                n_events += 1
                style = {"alert": "bold red", "reset": "yellow"}.get(ev.kind, "")
                out.print(f"[{style}]{ev.t:8.2f} s  {ev.kind:<6} {ev.label or '-'}  ({ev.confidence:.2f})[/]"
                          if style else f"{ev.t:8.2f} s  {ev.kind:<6} {ev.label or '-'}  ({ev.confidence:.2f})")
                if sink:
                    sink.write(ev.to_json() + "\n")
                    sink.flush()
    finally:
        if sink:
            sink.close()
    out.print(f"{rec.n_frames} frames, {sr.runs} model runs, {n_events} events"
              + (f", {len(collector)} windows collected in {collect}" if collector else ""))


@app.command()
def serve(
    models: list[Path] = typer.Argument(..., help="A clip classifier (model dir or .onnx) and/or a timeline model."),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (loopback by default)."),
    port: int = typer.Option(8000),
    max_body_mb: float = typer.Option(64.0, help="Largest request body or upload."),
    timeout: float = typer.Option(30.0, help="Per-request prediction timeout in s."),
    queue: int = typer.Option(4, help="Timeline jobs queued or running before 429."),
):
    """HTTP service: /v1/predict, /v1/timeline + /v1/jobs/{id}, /v1/model, /healthz, /metrics, /openapi.json."""
    from actline.serve import ServeConfig
    from actline.serve import serve as run

    run(models, host, port, ServeConfig(max_body_mb=max_body_mb, timeout_s=timeout, queue_size=queue))


@app.command()
def report(
    run: Path = typer.Argument(..., help="A training run directory, or a timeline model directory."),
    out_path: Path = typer.Option(Path("report.html"), "--out", help="HTML file to write."),
    video: Optional[Path] = typer.Option(None, help="Timeline models: the video or thermal recording to show."),
    timeline_file: Optional[Path] = typer.Option(None, "--timeline", help="Timeline models: a timeline already made "
                                                 "for --video (default: computed now)."),
):
    """One self-contained HTML report (opens from disk, no server, no network)."""
    from actline.report import build_report

    path = build_report(run, out_path, video, timeline_file)
    out.print(f"wrote {path}")


def _eval_recordings(run: Path) -> set[str]:
    import csv

    with open(run / "predictions.csv") as fh:
        return {row["recording_id"] for row in csv.DictReader(fh)}


def main(argv: list[str] | None = None) -> None:
    """Console entry point: user errors print one line and exit 2."""
    try:
        app(args=argv, standalone_mode=False)
    except ActlineError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except (typer.Exit, SystemExit) as exc:
        code = getattr(exc, "exit_code", getattr(exc, "code", 0))
        sys.exit(code or 0)
    except Exception as exc:
        # usage errors from click (typer vendors its own copy, so match by interface, not class)
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            exc.show()
            sys.exit(exc.exit_code)
        if type(exc).__name__ == "Abort":
            err.print("aborted")
            sys.exit(130)
        raise

if __name__ == "__main__":
    main()
