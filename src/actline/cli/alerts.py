"""``actline alerts choose`` and ``alerts set``: the alert setting a model streams with, chosen on held-out recordings
of its training data, or made by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from actline.cli.app import alerts_app
from actline.cli.options import (
    choice,
    data_option,
    device_option,
    flag,
    json_option,
    out_option,
    quiet_option,
    runtime_overrides,
    table_option,
    threads_option,
)
from actline.cli.render import next_step, print_json, progress_for, say
from actline.cli.tables import Table, print_table


def _groupings():
    from actline.data.splits import GROUPINGS

    return GROUPINGS


@alerts_app.command("choose")
def choose(
    model: Path = typer.Argument(..., metavar="MODEL", help="Model directory (RUN/model) whose recipe the folds repeat "
                                 "and where alerts.json is written."),
    data: Path = data_option("Its training data (the recordings its run held out are left out)."),
    group_by: str = choice("recording", "--group-by", _groupings, "recording|location",
                           help="Fold by recording, or by location (rooms; days for Nagoya)."),
    folds: Optional[int] = typer.Option(None, help="Folds (default: 5, or one per group when there are fewer)."),
    max_false_alarms_per_hour: Optional[float] = typer.Option(
        None, help="The trade-off: the best recall at or under this many false alarms per hour (default 1)."),
    min_recall: Optional[float] = typer.Option(None, help="Or: the fewest false alarms at or over this recall (%)."),
    event: list[str] = typer.Option([], help="The events to alert on: a class, or fall on Nagoya (repeatable; default: "
                                    "the model's ...risk and fall... classes)."),
    set_: list[str] = typer.Option([], "--set", help="Change a setting of the folds' training: --set epochs=10"),
    out_dir: Optional[Path] = out_option("Keep the folds' runs here (complete runs of the same recipe are reused; "
                                         "default: a temporary directory).", None),
    device: Optional[str] = device_option(),
    threads: int = threads_option(),
    allow_silent: bool = flag("--allow-silent", "Write the chosen setting even when it alerts on none of the "
                              "held-out events (refused otherwise)."),
    quiet: bool = quiet_option(),
    as_json: bool = json_option("Print what was written as JSON."),
    _table: Optional[str] = table_option(),
):
    """Choose alert classes, hold times, enter/exit and smoothing on recordings no fold model saw; write MODEL/alerts.json."""
    from actline.apps.stream.alert_choose import ChooseOptions, choose_alerts
    from actline.core.errors import ActlineError

    if max_false_alarms_per_hour is not None and min_recall is not None:
        raise ActlineError("alerts choose", "give one trade-off: --max-false-alarms-per-hour or --min-recall")
    with progress_for(quiet) as progress:
        doc = choose_alerts(model, data, ChooseOptions(
            group_by=group_by, folds=folds, max_false_alarms_per_hour=max_false_alarms_per_hour, min_recall=min_recall,
            events=event, overrides=[*set_, *runtime_overrides(device, threads)], out=out_dir,
            device=device or "auto", threads=threads, progress=progress, allow_silent=allow_silent))
    if as_json:
        return print_json(doc)
    _print_choice(doc)
    next_step(f"actline evaluate-stream {model} --data NEW_DATA (it takes alerts.json; --alert, --enter, --exit "
              "override it)")


@alerts_app.command("set")
def set_setting(
    model: Path = typer.Argument(..., metavar="MODEL", help="Model directory (RUN/model) where alerts.json is written."),
    setting: Path = typer.Option(..., "--from", metavar="FILE", help="A setting as JSON: format, alerts (CLASS: hold "
                                 "seconds), enter, exit, ema (examples/alerts.json)."),
):
    """Give a model a hand-made alert setting: FILE checked against the model's classes, written as MODEL/alerts.json."""
    from actline.infer.alert_settings import set_alerts

    say(f"wrote {set_alerts(model, setting)}")
    next_step(f"actline stream {model} --mqtt URL (it takes alerts.json; --alert, --enter, --exit override it)")


def _print_choice(doc: dict) -> None:
    from actline.apps.stream.alert_search import describe

    on = doc["chosen_on"]
    say(f"{on['recordings']} held-out recordings ({on['hours']:.2f} h) in {len(on['folds'])} folds by {on['group_by']}"
        + (f"; {on['left_out_recordings']} recordings the model was evaluated on left out" if on["left_out_recordings"]
           else "") + f"; {doc['settings_scored']} settings scored")
    table = Table(f"recall / false alarms per hour of {', '.join(doc['events'])} (the best recall at each rate)",
                  ["", ">recall %", ">false alarms / h", ">95 % interval", ">delay median s", "setting"])
    for r in doc["curve"]:
        mark = "chosen" if describe(r) == describe(doc["measured"]) else ""
        ci = r["false_alarms_per_hour_95"]
        table.add_row(mark, f"{r['recall']:.1f}", f"{r['false_alarms_per_hour']:.2f}",
                      "-" if ci is None else f"{ci[0]:.2f}-{ci[1]:.2f}",
                      "-" if r["delay_median_s"] is None else f"{r['delay_median_s']:.2f}", describe(r))
    print_table(table)
    m = doc["measured"]
    say(f"chosen ({', '.join(f'{k} {v:g}' for k, v in doc['trade_off'].items())}): {describe(m)}: recall "
        f"{m['recall']:.1f} % ({m['detected']}/{m['events']}), {m['false_alarms_per_hour']:.2f} false alarms per hour "
        f"({m['false_alarms']} in {m['hours_outside']:.2f} h outside events)")
    if not m["detected"]:
        say("warning (written because of --allow-silent): this setting alerts on none of the held-out events; a "
            "better model (more epochs, more data, --set background_class=none) or a looser trade-off would")
    say(f"wrote {doc['path']}")
