"""``actline stream``: a recording replayed (or sensors followed) frame by frame, as live."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from actline.cli.app import app
from actline.cli.render import out
from actline.core.errors import ActlineError


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

    from actline.apps.stream import FailureCollector, StreamConfig, StreamingRecognizer
    from actline.data.chunks import read_thermal_recording
    from actline.infer import Recognizer

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
