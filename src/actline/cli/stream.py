"""``actline stream``: a recording replayed, or MQTT sensors followed, frame by frame, as live."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from actline.cli.app import app
from actline.cli.command import moved_to
from actline.cli.options import (
    backend_option,
    data_option,
    device_option,
    flag,
    json_option,
    quiet_option,
    table_option,
    threads_option,
)
from actline.cli.render import out, print_json, progress_for, say
from actline.cli.tables import Table, print_table


def alert_option():
    return typer.Option([], help="CLASS=SECONDS: alert when CLASS is held that long (repeatable; default: the "
                        "model's alerts.json, else ...risk and fall... classes held 10 s).")


FEW_HOURS = 1.0  # false alarms per hour from less time than this outside events are flagged as rough

# the stream's smoothing, shared by both commands; unset, each is the model's alerts.json's, else StreamConfig's
# default (the numbers in the help)
EMA = typer.Option(None, help="Weight of the newest probabilities in the moving average (default: the model's "
                   "alerts.json, else 0.5).")
ENTER = typer.Option(None, help="Smoothed probability to enter a state (default: the model's alerts.json, else 0.6).")
EXIT = typer.Option(None, "--exit", help="Smoothed probability below which a state is left (default: the model's "
                    "alerts.json, else 0.4).")


def _print_event(ev) -> None:
    style = {"alert": "bold red", "cleared": "green", "reset": "yellow"}.get(ev.kind, "")
    who = f"{ev.sensor:<10} " if ev.sensor and ev.kind else ""
    line = f"{who}{ev.t:8.2f} s  {ev.kind:<6} {ev.label or '-'}  ({ev.confidence:.2f})"
    if ev.kind == "cleared":
        line += f" after {ev.detail.get('duration_s', 0):.1f} s"
    out.print(f"[{style}]{line}[/]" if style else line, highlight=False)


@app.command()
def stream(
    model: Optional[Path] = typer.Argument(None, metavar="MODEL", show_default=False,
                                           help="Model directory, or an exported .onnx file (runs without torch). "
                                           "Leave it out to only record, at any frame size (--record DIR)."),
    replay: Optional[Path] = typer.Option(None, help="Recording to replay as a live sensor (.h5, Nagoya .csv/.csv.gz)."),
    mqtt: Optional[str] = typer.Option(None, help="mqtt[s]://[user@]host:port/sensors/+/frames (password: "
                                       "$ACTLINE_MQTT_PASSWORD); the '+' level is the sensor id."),
    speed: float = typer.Option(1.0, help="Replay speed (0: as fast as possible)."),
    events_out: Optional[Path] = typer.Option(None, "--events", help="Append events as JSON lines here."),
    collect: Optional[Path] = typer.Option(None, help="Add uncertain or contradicted windows to this review queue "
                                           "folder (answer them with actline label --review)."),
    alert: list[str] = alert_option(),
    every: Optional[int] = typer.Option(None, help="Run the model every N frames (default: a quarter window)."),
    ema: Optional[float] = EMA, enter: Optional[float] = ENTER, exit_: Optional[float] = EXIT,
    state_dir: Optional[Path] = typer.Option(None, "--state", help="Save and restore per-sensor stream state here."),
    empty_room: list[str] = typer.Option([], help="The empty room each sensor's background starts from: a recording "
                                         "(every sensor), SENSOR=FILE, or a folder of SENSOR.h5/.npz files or SENSOR/ "
                                         "folders (repeatable)."),
    webhook: Optional[str] = typer.Option(None, help="Also POST each event as JSON here (retries, timeout)."),
    status_port: Optional[int] = typer.Option(None, help="Serve /healthz, /status, /metrics on this port."),
    status_host: str = typer.Option("127.0.0.1", help="Status address; beyond loopback $ACTLINE_TOKEN is required."),
    shard: Optional[str] = typer.Option(None, help="K/N: serve only the sensors whose id hashes to shard K of N."),
    max_seconds: Optional[float] = typer.Option(None, help="Stop MQTT intake after this long (default: Ctrl-C)."),
    queue_bytes: int = typer.Option(256 << 20, help="Cap of the MQTT intake queue in bytes (beside 20,000 frames); "
                                    "frames beyond it are dropped and counted."),
    record: Optional[Path] = typer.Option(None, help="Record every sensor's frames here, as DIR/frames/SENSOR_START.h5 "
                                          "(without MODEL, that is all the stream does)."),
    record_minutes: float = typer.Option(10.0, help="Start a new recorded file after this many minutes of sensor time."),
    record_flush_s: float = typer.Option(5.0, help="Flush open recordings to disk this often (seconds)."),
    record_max_gb: Optional[float] = typer.Option(None, help="Stop recording (not the stream) when DIR/frames "
                                                  "would exceed this many GB."),
    device: Optional[str] = device_option(),
    threads: int = threads_option(),
    backend: Optional[str] = backend_option(),
):
    """Follow sensors (MQTT) or replay a recording frame by frame, printing state changes and alerts.

    Without a MODEL it only records (--record DIR): every sensor at the frame size it sends, no events.
    """
    from actline.apps.stream.run import StreamOptions, run_stream

    opts = StreamOptions(replay=replay, mqtt=mqtt, speed=speed, events=events_out, collect=collect, alerts=alert,
                         every=every, ema=ema, enter=enter, exit=exit_, state_dir=state_dir, empty_room=empty_room,
                         webhook=webhook, status_port=status_port, status_host=status_host, shard=shard,
                         max_seconds=max_seconds, queue_bytes=queue_bytes, record=record, record_minutes=record_minutes,
                         record_flush_s=record_flush_s, record_max_gb=record_max_gb, backend=backend,
                         device=device, threads=threads)
    summary = run_stream(model, opts, on_event=_print_event)
    _print_record_summary(summary) if model is None else _print_stream_summary(summary)


def _taken(s: dict) -> str:
    dropped = s.get("dropped") or {}
    why = ", ".join(f"{k} {v}" for k, v in sorted(dropped.items()) if v)
    return f"{s['frames']} frames" + (f" from {s['sensors']} sensors ({s['refused']} refused, "
                                      f"{sum(dropped.values())} dropped{': ' + why if why else ''})"
                                      if "sensors" in s else "")


def _recorded(rec: dict, size: str = "") -> str:
    return (f"recorded {rec['frames']} frames in {rec['files']} file{'' if rec['files'] == 1 else 's'} under "
            f"{rec['dir']}/frames{size}" + (f"; recording stopped: {rec['stopped']}" if rec["stopped"] else ""))


def _print_stream_summary(s: dict) -> None:
    out.print(_taken(s) + f", {s['runs']} model runs, {s['events']} events"
              + (f", {s['collected']} windows collected in {s['collect_dir']}" if s["collected"] is not None else ""),
              highlight=False)
    if s.get("alerts_from"):
        say(f"alert setting: {s['alerts_from']}")
    if s.get("recording"):
        out.print(_recorded(s["recording"]), highlight=False, soft_wrap=True)


def _print_record_summary(s: dict) -> None:
    """Without a model: what was taken, what was written, and per sensor its frame size, frames, files and bytes."""
    from actline.data.recordings.recorder import size_text

    rec, sizes = s["recording"], s["frame_sizes"]
    per = rec["sensors"]
    out.print(_taken(s), highlight=False)
    out.print(_recorded(rec, f" ({size_text(sum(v['bytes'] for v in per.values()))})"), highlight=False, soft_wrap=True)
    table = Table("recorded per sensor", ["sensor", "frame size", ">frames", ">files", ">on disk"])
    for sensor in sorted(set(sizes) | set(per)):
        v = per.get(sensor, {"frames": 0, "files": 0, "bytes": 0})
        table.add_row(sensor, sizes.get(sensor, "-"), str(v["frames"]), str(v["files"]), size_text(v["bytes"]))
    if table.rows:
        print_table(table)


def _fmt(v, spec: str = ".1f") -> str:
    return "-" if v is None else format(v, spec)


def _span(hours: float) -> str:
    """A length of time people read at a glance: seconds, minutes or hours."""
    s = hours * 3600
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.1f} min" if s < 7200 else f"{hours:.1f} h"


def _interval(p: dict) -> str:
    ci = p.get("false_alarms_per_hour_95")
    return "-" if ci is None else f"{ci[0]:.1f}-{ci[1]:.1f}"


def _print_events_table(rep: dict) -> None:
    alerts = ", ".join(f"{c} held {v:g} s" for c, v in rep["alerts"].items())
    st = rep["stream"]
    say(f"{rep['recordings']} recordings, {_span(rep['hours'])} replayed; alerts: {alerts}; enter {st['enter']:g}, "
        f"exit {st['exit']:g}, ema {st['ema']:g}" + (f" (from {rep['alerts_from']})" if rep.get("alerts_from") else ""))
    table = Table("events and states", ["events of", "who", ">events", ">recall %", ">delay median s", ">delay p90 s",
                                        ">false alarms / h", ">95 % interval", ">time outside events"])
    rows = [(k, who, v[who]) for k, v in rep["events"].items() for who in ("model", "baseline")]
    rows += [(c, "state", p) for c, p in rep["states"].items()]
    for name, who, p in rows:
        table.add_row(name, who, str(p["events"]), _fmt(p["recall"]), _fmt(p["delay_median_s"], ".2f"),
                      _fmt(p["delay_p90_s"], ".2f"), _fmt(p["false_alarms_per_hour"]), _interval(p),
                      _span(p["hours_outside"]))
    print_table(table)
    least = min((p["hours_outside"] for _, _, p in rows), default=0.0)
    if least < FEW_HOURS:
        say(f"warning: false alarms per hour rest on as little as {_span(least)} outside events (under "
            f"{FEW_HOURS:g} h): a rough figure; replay more recordings for a firm one")
    _print_false_alarms(rep)


def _print_false_alarms(rep: dict) -> None:
    for kind, rows in rep.get("false_alarms_by_location", {}).items():
        table = Table(f"false alarms of {kind} by room", ["room", ">recordings", ">time outside events",
                                                          ">false alarms", ">per hour", ">95 % interval"])
        for r in rows:
            table.add_row(r["location"], str(r["recordings"]), _span(r["hours_outside"]), str(r["false_alarms"]),
                          _fmt(r["false_alarms_per_hour"]), _interval(r))
        print_table(table)
    if rep.get("false_alarms"):
        table = Table("every false alarm", ["recording", ">t s", "alert", "state before", "annotated"])
        for a in rep["false_alarms"]:
            table.add_row(a["recording"], f"{a['t']:.1f}", a["alert"] or "-", a["state_before"] or "uncertain",
                          a["annotated"] or "unannotated")
        print_table(table)
    if rep.get("collected"):
        c = rep["collected"]
        say(f"added {c['false-alarm']} false alarms and {c['miss']} missed events to the review queue {c['dir']} "
            f"(answer them with actline label --data DATA --review {c['dir']})")


@app.command("evaluate-stream")
@moved_to("--data", 1)
def evaluate_stream(
    model: Path = typer.Argument(..., metavar="MODEL", help="Model directory, or an exported .onnx file."),
    data: Path = data_option("Data set whose recordings are replayed (ThermalDataGen or Nagoya)."),
    alert: list[str] = alert_option(),
    group: Optional[str] = typer.Option(None, help="Only recordings of this group (a Nagoya day, a room)."),
    every: Optional[int] = typer.Option(None, help="Run the model every N frames (default: a quarter window)."),
    ema: Optional[float] = EMA, enter: Optional[float] = ENTER, exit_: Optional[float] = EXIT,
    plot: Optional[Path] = typer.Option(None, help="Write a timeline picture of one recording here (PNG)."),
    plot_recording: Optional[str] = typer.Option(None, help="Which recording to picture (default: one with an event)."),
    held_out: bool = flag("--held-out", "Only the recordings the model's training run held out (its split)."),
    collect: Optional[Path] = typer.Option(None, help="Add every false alarm and missed event to this review queue "
                                           "folder (answer them with actline label --review)."),
    device: Optional[str] = device_option(),
    threads: int = threads_option(),
    quiet: bool = quiet_option(),
    as_json: bool = json_option("Print the report as JSON."),
    _table: Optional[str] = table_option(),
):
    """Replay every recording as live and judge alerts as events: recall, delay, false alarms per hour."""
    from actline.apps.stream.event_replay import EvaluateOptions
    from actline.apps.stream.event_replay import evaluate_stream as run

    with progress_for(quiet) as progress:
        opts = EvaluateOptions(alerts=alert, group=group, every=every, ema=ema, enter=enter, exit=exit_, plot=plot,
                               plot_recording=plot_recording, collect=collect, held_out=held_out,
                               device=device or "auto",
                               threads=threads, progress=progress)
        rep = run(model, data, opts)
    print_json(rep) if as_json else _print_events_table(rep)
    if rep.get("plot"):
        say(f"wrote {rep['plot']}")
