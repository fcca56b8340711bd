"""``actline stream``: a recording replayed, or MQTT sensors followed, frame by frame, as live."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from actline.cli.app import app
from actline.cli.render import out


def _print_event(ev) -> None:
    style = {"alert": "bold red", "reset": "yellow"}.get(ev.kind, "")
    who = f"{ev.sensor:<10} " if ev.sensor and ev.kind else ""
    line = f"{who}{ev.t:8.2f} s  {ev.kind:<6} {ev.label or '-'}  ({ev.confidence:.2f})"
    out.print(f"[{style}]{line}[/]" if style else line, highlight=False)


@app.command()
def stream(
    model: Path = typer.Argument(..., help="Model directory, or an exported .onnx file (runs without torch)."),
    replay: Optional[Path] = typer.Option(None, help="Recording to replay as a live sensor (.h5, Nagoya .csv/.csv.gz)."),
    speed: float = typer.Option(1.0, help="Replay speed (0: as fast as possible)."),
    events_out: Optional[Path] = typer.Option(None, "--events", help="Append events as JSON lines here."),
    collect: Optional[Path] = typer.Option(None, help="Save uncertain or contradicted windows here for relabelling."),
    alert: list[str] = typer.Option([], help="CLASS=SECONDS: alert when CLASS is held that long (repeatable)."),
    every: Optional[int] = typer.Option(None, help="Run the model every N frames (default: a quarter window)."),
    ema: float = typer.Option(0.5, help="Weight of the newest probabilities in the moving average."),
    enter: float = typer.Option(0.6, help="Smoothed probability to enter a state."),
    exit_: float = typer.Option(0.4, "--exit", help="Smoothed probability below which a state is left."),
    state_dir: Optional[Path] = typer.Option(None, "--state", help="Save and restore per-sensor stream state here."),
    empty_room: Optional[Path] = typer.Option(None, help="A recording of the empty room: seeds the background."),
):
    """Replay a recording frame by frame as a live sensor would, printing state changes and alerts."""
    from actline.apps.stream.run import StreamOptions, run_stream

    opts = StreamOptions(replay=replay, speed=speed, events=events_out, collect=collect, alerts=alert, every=every,
                         ema=ema, enter=enter, exit=exit_, state_dir=state_dir, empty_room=empty_room)
    s = run_stream(model, opts, on_event=_print_event)
    out.print(f"{s['frames']} frames, {s['runs']} model runs, {s['events']} events"
              + (f", {s['collected']} windows collected in {s['collect_dir']}" if s["collected"] is not None else ""))
