"""Teaching a model a new room: adapt."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from actline.cli import options as opt
from actline.cli.app import app
from actline.cli.render import print_json, progress_for, say
from actline.cli.tables import Table, print_table


@app.command()
def adapt(
    model_dir: Path = typer.Argument(..., metavar="MODEL", help="The model directory to start from (RUN/model)."),
    data: Path = opt.data_option("The new room's labelled recordings: a few minutes in which each of its activities "
                             "happens (a calibration session)."),
    out_dir: Path = opt.out_option("The adapted model directory to write."),
    replay: Optional[Path] = typer.Option(None, metavar="DIR", help="The model's training data, replayed beside the "
                                          "room's so that the rooms it knew are not forgotten, and the model's trees "
                                          "refit on it with the room's session (and scored before and after on its "
                                          "held-out part)."),
    eval_data: Optional[Path] = typer.Option(None, "--eval", metavar="DIR", help="A data set with other labelled "
                                             "recordings of the same room: scored before and after."),
    layers: Optional[str] = typer.Option(None, metavar="head|last|all", help="What learns (default: all)."),
    epochs: Optional[int] = typer.Option(None, help="Epochs of fine-tuning (default: 30)."),
    set_: list[str] = typer.Option([], "--set", help="Any adapt setting: --set lr=3e-4 --set replay=1"),
    resume: bool = opt.flag("--resume", "Continue an interrupted adaptation at --out from its last checkpoint."),
    overwrite: bool = opt.overwrite_option("the model at --out"),
    device: Optional[str] = opt.device_option(),
    threads: int = opt.threads_option(),
    quiet: bool = opt.quiet_option(),
    as_json: bool = opt.json_option("Print the report as JSON."),
    _table: Optional[str] = opt.table_option(),
):
    """Teach a trained model a new room from a few labelled minutes recorded there.

    The model's network is fine-tuned on the room's windows (with its training data replayed beside them,
    if given), and its room gate learns the room, so it trusts the adapted network there. The new room's
    other recordings (--eval) and the old data's held-out part (--replay) are scored before and after.
    """
    from actline.runs.adapt_run import adapt_model
    from actline.train.adapt_fit import AdaptConfig
    from actline.train.config import load_settings

    overrides = [*set_, *([f"layers={layers}"] if layers else []), *([f"epochs={epochs}"] if epochs else []),
                 *([f"num_threads={threads}"] if threads else []), *([f"device={device}"] if device else [])]
    cfg = load_settings(AdaptConfig(), None, overrides)
    with progress_for(quiet) as progress:
        report = adapt_model(model_dir, data, out_dir, cfg, replay, eval_data, progress, resume, overwrite)
    if as_json:
        return print_json(report)
    t = Table(f"adapted to {', '.join(report['locations'])} on {report['room_windows']} windows "
              f"(+{report['replayed_windows']} replayed) in {report['adapt_time_s']:.0f} s",
              ["data", ">n", "", ">top-1 %", ">mean class acc %", ">macro-F1 %"])
    for what, s in report["scores"].items():
        for name in ("before", "after"):
            t.add_row(what.replace("_", " "), str(s[name]["n"]), name,
                      *(f"{s[name][k]:.1f}" for k in ("top1", "mean_class_accuracy", "macro_f1")))
        for name, b in s["baselines"].items():
            if "macro_f1" in b:
                t.add_row("", "", f"{name} baseline", *(f"{b[k]:.1f}" for k in ("top1", "mean_class_accuracy", "macro_f1")))
    if report["scores"]:
        print_table(t)
    say(f"wrote {out_dir}; next: actline predict {out_dir} RECORDING, or actline export {out_dir}")
