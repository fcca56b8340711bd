"""Commands for clip classifiers: train, evaluate, predict, models, demo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from actline.cli.app import app
from actline.cli.render import err, out, print_cv, print_json, print_metrics, print_rows, print_summary, progress_for
from actline.core.errors import ActlineError


@app.command()
def train(
    data: Optional[Path] = typer.Option(None, "--data", help="Data set directory."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Run directory to write (metrics.json, model/, plots)."),
    resume: Optional[Path] = typer.Option(None, help="Continue an interrupted run from its last epoch checkpoint "
                                          "(its config and data are reused)."),
    overwrite: bool = typer.Option(False, help="Replace a run that already exists at --out."),
    split: Optional[str] = typer.Option(None, help="given | by-recording | by-location | kfold | none "
                                        "(default: by-recording)."),
    holdout: Optional[str] = typer.Option(None, help="Hold out these recordings, locations or days (comma-separated) "
                                          "instead of a random fold."),
    final: bool = typer.Option(False, "--final", help="Train on every sample (--split none): the model to deploy."),
    model: Optional[str] = typer.Option(None, help="Model name (see `actline models`), features, or auto."),
    config: Optional[Path] = typer.Option(None, help="YAML config file."),
    seeds: Optional[int] = typer.Option(None, help="Train K models and evaluate their averaged predictions."),
    epochs: Optional[int] = typer.Option(None, help="Epochs (overrides the config)."),
    pretrained: Optional[str] = typer.Option(None, "--weights", help="Pretrained weights: a torchvision enum name, "
                                             "or a local file (torchvision .pth, MMAction2/PyTorchVideo SlowFast)."),
    set_: list[str] = typer.Option([], "--set", help="Override any setting: --set lr=1e-3 --set augment.hflip=0"),
    quiet: bool = typer.Option(False, help="No progress bar."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
    devices: int = typer.Option(1, help="Processes on this machine (DistributedDataParallel; gloo on CPUs, NCCL on "
                                "GPUs)."),
    num_nodes: int = typer.Option(1, help="Machines taking part; more than one is launched by torchrun (see the "
                                  "docs: Training at scale)."),
):
    """Train a clip classifier, evaluate it on the split's held-out part beside baselines, save the run.

    A checkpoint is saved after every epoch; `--resume RUN` continues an interrupted run to the
    same result an uninterrupted one gives.
    """
    from actline.runs.launch import clip_settings, launch

    overrides = [*set_, *(["split=holdout", f"holdout={holdout}"] if holdout else []),
                 *(["split=none"] if final else [])]
    for key, value in (("split", split), ("model", model), ("seeds", seeds), ("epochs", epochs),
                       ("pretrained", pretrained)):
        if value is not None:
            overrides.append(f"{key}={value}")
    data, out_dir, cfg = clip_settings(data, out_dir, config, overrides, resume)
    with progress_for(quiet) as progress:
        metrics = launch(data, out_dir, cfg, devices, num_nodes, resume is not None, overwrite, progress)
    if metrics is None:  # another rank wrote and reports the run
        return
    print_metrics(metrics, as_json)
    if not as_json:
        out.print(f"wrote {out_dir / 'metrics.json'} and {out_dir / 'model'}")


@app.command()
def cv(
    data: Path = typer.Option(..., "--data", help="Data set directory."),
    out_dir: Path = typer.Option(..., "--out", help="Directory for the folds' runs and cv.json."),
    folds: int = typer.Option(5, help="Folds (groups never cut in two)."),
    repeats: int = typer.Option(1, help="Repeat with seeds seed..seed+R-1 (new folds and new training seeds)."),
    group_by: str = typer.Option("recording", help="recording, or location (rooms; days for Nagoya)."),
    model: Optional[str] = typer.Option(None, help="Model name, features, or auto."),
    config: Optional[Path] = typer.Option(None, help="YAML config file."),
    set_: list[str] = typer.Option([], "--set", help="Override any setting: --set epochs=20"),
    overwrite: bool = typer.Option(False, help="Replace fold runs that already exist."),
    quiet: bool = typer.Option(False, help="No progress bar."),
    as_json: bool = typer.Option(False, "--json", help="Print cv.json."),
):
    """Grouped k-fold cross-validation: per-fold and mean ± sd figures beside the baselines, per class pooled."""
    from actline.runs.cv import cross_validate
    from actline.train.config import load_config

    cfg = load_config(config, [*set_, *([f"model={model}"] if model else [])])
    with progress_for(quiet) as progress:
        result = cross_validate(data, out_dir, cfg, folds, repeats, group_by, progress, overwrite)
    from actline.apps.html_report import build_report

    page = build_report(out_dir, out_dir / "report.html")
    print_cv(result, as_json)
    if not as_json:
        out.print(f"wrote {out_dir / 'cv.json'} and {page} (opens from disk)")


@app.command()
def evaluate(
    model_dir: Path = typer.Argument(..., help="Model directory (RUN/model)."),
    data: Path = typer.Option(..., "--data", help="Data set directory."),
    split: Optional[str] = typer.Option(None, help="Split (default: every sample of data the model never saw, or "
                                        "the held-out part of its own training data)."),
    out_json: Optional[Path] = typer.Option(None, "--out", help="Write metrics JSON here."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
):
    """Evaluate a saved model on a data set beside the baselines fitted on its own training data."""
    from actline.core.atomic import write_json
    from actline.runs.evaluate_model import evaluate_model_dir

    metrics = evaluate_model_dir(model_dir, data, split)
    print_metrics(metrics, as_json)
    if out_json:
        write_json(out_json, metrics)
        err.print(f"wrote {out_json}")


@app.command()
def predict(
    model_dir: Path = typer.Argument(..., help="Model directory (RUN/model)."),
    recording: Path = typer.Argument(..., help="A recording file (frames/<sensor_id>.h5)."),
    stride: Optional[int] = typer.Option(None, help="Sliding windows every STRIDE frames (default: the "
                                         "annotated keyframes if the data set has them, else half a window)."),
    top_k: int = typer.Option(3, help="How many classes to list per window."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON lines instead of a table."),
    device: str = typer.Option("cpu", help="cpu or cuda."),
    review: Optional[Path] = typer.Option(None, help="Add the most uncertain windows to this review queue folder."),
    review_count: int = typer.Option(10, min=0, help="How many windows --review adds (lowest top probability)."),
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
    t0 = float(rec.timestamps[0])
    if review is not None:  # on stderr, so --json output stays one prediction per line
        from actline.infer.review_windows import queue_uncertain

        ids = queue_uncertain(rec_obj, rec, preds, review, review_count, data=_dataset_root(recording))
        err.print(f"{len(ids)} uncertain windows added to the review queue {review}", highlight=False)
    if rec_obj.gated:  # on stderr, so --json output stays one prediction per line
        from actline.modeldir.parts.room_gate import room_gate_of

        room_gate = room_gate_of(rec_obj.classifier)
        sim, gate = rec_obj.room_similarity(rec.empty_room()), room_gate.threshold
        fallback = "the fallback CNN" if room_gate.fallback is not None else "the CNN"
        err.print(f"room: similarity {sim:.2f} to the nearest training room (gate at {gate:g}): "
                  + (f"unfamiliar, {fallback} fused with the trees" if sim < gate else "familiar, the CNN alone"))
    if as_json:  # time_s from the recording's first frame, as in the table; timestamp_s on the recording's clock
        for idx, t, p in preds:
            print(json.dumps({"frame_idx": idx, "time_s": round(t - t0, 3), "timestamp_s": round(t, 3), **p.to_dict(),
                              **({"true": truth[idx]} if idx in truth else {})}))
        return
    t = Table(title=f"{recording.name}: {len(preds)} windows ({'keyframes' if centres else 'sliding'})")
    for col in ("frame", "time s", "prediction", "conf", "top-k") + (("true",) if truth else ()):
        t.add_column(col)
    for idx, ts, p in preds:
        row = [str(idx), f"{ts - t0:.1f}", p.label, f"{p.confidence:.2f}",
               ", ".join(f"{c} {v:.2f}" for c, v in p.topk[1:])]
        if truth:
            row.append(truth.get(idx, ""))
        t.add_row(*row)
    out.print(t)


def _dataset_root(recording: Path) -> Path | None:
    """The ThermalDataGen directory holding this recording (``DIR/frames/<recording>.h5``), if it is in one."""
    root = recording.resolve().parent.parent
    return root if (root / "annotations" / "class_mapping.json").is_file() else None


def _keyframes_for(recording: Path, rec):
    """Annotated keyframes of this recording when it sits in a ThermalDataGen directory."""
    root = _dataset_root(recording)
    if root is None:
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


@app.command("models")
def models_cmd(as_json: bool = typer.Option(False, "--json", help="Print JSON.")):
    """List the models `actline train --model` takes: registered torch models, features, auto."""
    from actline.models.registry import list_models, model_info
    from actline.train.config import NON_TORCH_MODELS

    rows = [{"name": n, "kind": model_info(n).kind, "input": model_info(n).input} for n in list_models()]
    rows += [{"name": n, "kind": "recipe", "input": "thermal"} for n in NON_TORCH_MODELS]
    if as_json:
        return print_json(rows)
    t = Table(title="models")
    for col in ("name", "kind", "input"):
        t.add_column(col)
    for r in rows:
        t.add_row(r["name"], r["kind"], r["input"])
    out.print(t)


@app.command()
def demo(
    out_dir: Path = typer.Option(Path("runs/demo"), "--out", help="Where the demo writes its data and results."),
    seed: int = typer.Option(0, help="Random seed (data and training)."),
    preset: str = typer.Option("realistic", help="Synthetic data preset: realistic or easy."),
    recordings: Optional[int] = typer.Option(None, help="Recordings to generate (default: the preset's)."),
    duration: Optional[float] = typer.Option(None, help="Seconds per recording (default: the preset's)."),
    set_: list[str] = typer.Option([], "--set", help="Override a training setting: --set epochs=10"),
):
    """The main job on built-in synthetic data: data -> train -> evaluate on unseen recordings -> predict -> report."""
    from actline.apps.demo import make_data, predict_held_out, train_and_evaluate
    from actline.apps.html_report import build_report

    with out.status(f"generating a synthetic thermal data set ({preset} preset)"):
        data, summary = make_data(out_dir, seed, preset, recordings, duration)
    print_summary(summary)
    out.rule("training on whole recordings, evaluating on recordings the model has never seen")
    with progress_for(False) as progress:
        metrics = train_and_evaluate(data, out_dir, seed, set_, progress)
    print_metrics(metrics)
    recording, rows = predict_held_out(data, out_dir / "run")
    print_rows(rows, f"predictions on held-out recording {recording}", ("time_s", "true", "predicted", "confidence"))
    out.print(f"{sum(r['true'] == r['predicted'] for r in rows)}/{len(rows)} keyframes right on this recording")
    out.print(f"held-out recording: {data / 'frames' / f'{recording}.h5'}", highlight=False)
    report = build_report(out_dir / "run", out_dir / "report.html")
    out.print(f"wrote {out_dir / 'montage.png'}, {out_dir / 'run' / 'metrics.json'}, {out_dir / 'run' / 'model'}")
    out.print(f"[bold]report: {report.resolve()}[/] (open it in a browser; it needs no server)")
