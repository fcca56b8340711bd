"""Commands that train and judge clip classifiers: train, cv, evaluate, demo."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from actline.cli.app import app
from actline.cli.data import synth_presets
from actline.cli.options import (
    choice,
    data_option,
    device_option,
    flag,
    json_option,
    out_option,
    overwrite_option,
    quiet_option,
    ray_option,
    runtime_overrides,
    table_option,
    threads_option,
)
from actline.cli.render import (
    err,
    next_step,
    out,
    print_cv,
    print_metrics,
    print_rows,
    print_summary,
    progress_for,
    say,
)


def _splits():
    from actline.data.splits import SPLITS

    return SPLITS


def _groupings():
    from actline.data.splits import GROUPINGS

    return GROUPINGS


def _clip_models():
    from actline.models.registry import list_models
    from actline.train.config import NON_TORCH_MODELS

    return [*list_models("clip"), *list_models("ensemble"), *NON_TORCH_MODELS]


def _model_option(help: str):
    return choice(None, "--model", _clip_models, "NAME", help=help)


@app.command()
def train(
    data: Optional[Path] = data_option(required=False),
    out_dir: Optional[Path] = out_option("Run directory to write (metrics.json, model/, plots).", None),
    resume: Optional[Path] = typer.Option(None, help="Continue an interrupted run from its last epoch checkpoint "
                                          "(its config and data are reused)."),
    overwrite: bool = overwrite_option("a run at --out"),
    split: Optional[str] = choice(None, "--split", _splits, "given|by-recording|by-location|kfold|holdout|none",
                                  help="How to hold data out (default: by-recording; holdout: see --holdout)."),
    holdout: Optional[str] = typer.Option(None, help="Hold out these recordings, locations or days (comma-separated) "
                                          "instead of a random fold."),
    final: bool = flag("--final", "Train on every sample (--split none): the model to deploy."),
    model: Optional[str] = _model_option("Model name (see `actline models`), features, or auto."),
    config: Optional[Path] = typer.Option(None, help="YAML config file."),
    seeds: Optional[int] = typer.Option(None, help="Train K models and evaluate their averaged predictions."),
    epochs: Optional[int] = typer.Option(None, help="Epochs (overrides the config)."),
    pretrained: Optional[str] = typer.Option(None, "--weights", help="Pretrained weights: a torchvision enum name, "
                                             "or a local file (torchvision .pth, MMAction2/PyTorchVideo SlowFast)."),
    set_: list[str] = typer.Option([], "--set", help="Override any setting: --set lr=1e-3 --set augment.hflip=0"),
    device: Optional[str] = device_option(),
    threads: int = threads_option(),
    devices: int = typer.Option(1, help="Processes on this machine (DistributedDataParallel; gloo on CPUs, NCCL on "
                                "GPUs)."),
    num_nodes: int = typer.Option(1, help="Machines taking part; more than one is launched by torchrun (see the "
                                  "docs: Training at scale)."),
    quiet: bool = quiet_option(),
    as_json: bool = json_option("Print the metrics as JSON."),
    _table: Optional[str] = table_option(),
):
    """Train a clip classifier, evaluate it on the split's held-out part beside baselines, save the run.

    A checkpoint is saved after every epoch; `--resume RUN` continues an interrupted run to the
    same result an uninterrupted one gives.
    """
    from actline.runs.launch import clip_settings, launch

    overrides = [*set_, *(["split=holdout", f"holdout={holdout}"] if holdout else []),
                 *(["split=none"] if final else []), *runtime_overrides(device, threads)]
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
    say(f"wrote {out_dir / 'metrics.json'} and {out_dir / 'model'}")
    next_step(f"actline predict {out_dir / 'model'} RECORDING.h5, actline report {out_dir}, "
              f"or actline export {out_dir / 'model'}")


@app.command()
def cv(
    data: Path = data_option(),
    out_dir: Path = out_option("Directory for the folds' runs, cv.json and report.html."),
    folds: int = typer.Option(5, help="Folds (groups never cut in two)."),
    repeats: int = typer.Option(1, help="Repeat with seeds seed..seed+R-1 (new folds and new training seeds)."),
    group_by: str = choice("recording", "--group-by", _groupings, "recording|location",
                           help="recording, or location (rooms; days for Nagoya)."),
    model: Optional[str] = _model_option("Model name (see `actline models`), features, or auto."),
    config: Optional[Path] = typer.Option(None, help="YAML config file."),
    set_: list[str] = typer.Option([], "--set", help="Override any setting: --set epochs=20"),
    device: Optional[str] = device_option(),
    threads: int = threads_option(),
    overwrite: bool = overwrite_option("fold runs under --out"),
    ray: Optional[str] = ray_option("folds"),
    quiet: bool = quiet_option(),
    as_json: bool = json_option("Print cv.json."),
    _table: Optional[str] = table_option(),
):
    """Grouped k-fold cross-validation: per-fold and mean ± sd figures beside the baselines, per class pooled."""
    from actline.runs.cv import cross_validate
    from actline.train.config import load_config

    cfg = load_config(config, [*set_, *([f"model={model}"] if model else []), *runtime_overrides(device, threads)])
    with progress_for(quiet) as progress:
        result = cross_validate(data, out_dir, cfg, folds, repeats, group_by, progress, overwrite, cluster=ray)
    from actline.apps.html_report import build_report

    page = build_report(out_dir, out_dir / "report.html")
    print_cv(result, as_json)
    say(f"wrote {out_dir / 'cv.json'} and {page} (opens from disk)")


@app.command()
def evaluate(
    model_dir: Path = typer.Argument(..., metavar="MODEL", help="Model directory (RUN/model)."),
    data: Path = data_option(),
    split: Optional[str] = choice(None, "--split", _splits, "given|by-recording|by-location|kfold|holdout|none",
                                  help="Split (default: every sample of data the model never saw, or the held-out "
                                       "part of its own training data)."),
    out_json: Optional[Path] = out_option("Write the metrics JSON here.", None),
    device: Optional[str] = device_option(),
    threads: int = threads_option(),
    quiet: bool = quiet_option(),
    as_json: bool = json_option("Print the metrics as JSON."),
    _table: Optional[str] = table_option(),
):
    """Evaluate a saved model on a data set beside the baselines fitted on its own training data."""
    from actline.core.atomic import write_json
    from actline.runs.evaluate_model import evaluate_model_dir

    with progress_for(quiet):
        metrics = evaluate_model_dir(model_dir, data, split, device=device or "auto", threads=threads)
    print_metrics(metrics, as_json)
    if out_json:
        write_json(out_json, metrics)
        err.print(f"wrote {out_json}", highlight=False)


@app.command()
def demo(
    out_dir: Path = out_option("Where the demo writes its data and results.", Path("runs/demo")),
    seed: int = typer.Option(0, help="Random seed (data and training)."),
    set_: list[str] = typer.Option([], "--set", help="Override a training setting: --set epochs=10"),
    preset: str = choice("realistic", "--preset", synth_presets, "easy|realistic", help="Synthetic data preset."),
    recordings: Optional[int] = typer.Option(None, help="Recordings to generate (default: the preset's)."),
    duration: Optional[float] = typer.Option(None, help="Seconds per recording (default: the preset's)."),
    device: Optional[str] = device_option(),
    threads: int = threads_option(),
    quiet: bool = quiet_option(),
):
    """The main job on built-in synthetic data: data -> train -> evaluate on unseen recordings -> predict -> report."""
    from actline.apps.demo import make_data, predict_held_out, train_and_evaluate
    from actline.apps.html_report import build_report

    with out.status(f"generating a synthetic thermal data set ({preset} preset)"):
        data, summary = make_data(out_dir, seed, preset, recordings, duration)
    print_summary(summary)
    out.rule("training on whole recordings, evaluating on recordings the model has never seen")
    with progress_for(quiet) as progress:
        metrics = train_and_evaluate(data, out_dir, seed, [*set_, *runtime_overrides(device, threads)], progress)
    print_metrics(metrics)
    recording, rows = predict_held_out(data, out_dir / "run")
    print_rows(rows, f"predictions on held-out recording {recording}", ("time_s", "true", "predicted", "confidence"))
    say(f"{sum(r['true'] == r['predicted'] for r in rows)}/{len(rows)} keyframes right on this recording")
    say(f"held-out recording: {data / 'frames' / f'{recording}.h5'}")
    report = build_report(out_dir / "run", out_dir / "report.html")
    say(f"wrote {out_dir / 'montage.png'}, {out_dir / 'run' / 'metrics.json'}, {out_dir / 'run' / 'model'}")
    out.print(f"[bold]report: {report.resolve()}[/] (open it in a browser; it needs no server)", highlight=False)
