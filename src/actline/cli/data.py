"""Commands that make and inspect data sets: synth, synth-video, data inspect."""

from __future__ import annotations

import json
import shlex
from contextlib import nullcontext
from pathlib import Path
from typing import Optional

import typer

from actline.cli.app import app, data_app
from actline.cli.command import moved_to
from actline.cli.options import (
    choice,
    data_option,
    json_option,
    out_option,
    overwrite_option,
    quiet_option,
    table_option,
)
from actline.cli.render import err, next_step, print_summary, progress_for, say
from actline.core.errors import ActlineError


def _window_modes():
    from actline.data.window import MODES

    return MODES


def synth_presets():
    from actline.data.synth.common import PRESETS

    return tuple(PRESETS)


@app.command()
@moved_to("--out")
def synth(
    out_dir: Path = out_option("Directory to create (ThermalDataGen layout)."),
    preset: str = choice("realistic", "--preset", synth_presets, "easy|realistic", help="realistic (matches real 40x60 "
                         "recordings: bursts and gaps, hot objects, rooms that are nearly one scenario each) or easy "
                         "(clean, for quick tests)."),
    recordings: Optional[int] = typer.Option(None, help="Number of recordings (default: the preset's)."),
    duration: Optional[float] = typer.Option(None, help="Seconds per recording (default: the preset's)."),
    locations: Optional[int] = typer.Option(None, help="Rooms the recordings come from (realistic preset)."),
    seed: int = typer.Option(0, help="Random seed: the same seed writes the same data."),
    calibration: Optional[str] = typer.Option(None, help="Realistic preset: instead of the data set, a calibration "
                                              "recording for each location named (comma-separated; 'all' for every "
                                              "one) of the data set these options describe: the same rooms, a short "
                                              "session in which the person does each of the room's activities once."),
    overwrite: bool = overwrite_option("OUT"),
    quiet: bool = quiet_option(),
):
    """Write a synthetic thermal data set in the ThermalDataGen format (frames/*.h5 + COCO keyframes)."""
    from actline.data.synth.thermal_set import SynthConfig, generate_thermal_dataset

    if out_dir.exists() and not overwrite:
        raise ActlineError(out_dir, "already exists (add --overwrite to replace it)")
    try:
        rooms = None if calibration is None else tuple(r for r in calibration.split(",") if r.strip() not in ("", "all"))
        cfg = SynthConfig(preset=preset, n_recordings=recordings, duration_s=duration, n_locations=locations, seed=seed,
                          calibration=rooms)
    except ValueError as exc:
        raise ActlineError("synth", str(exc)) from None
    what = (f"calibration sessions, {preset} preset" if calibration is not None
            else f"{cfg.n_recordings} recordings of {cfg.duration_s:g} s, {preset} preset")
    with nullcontext() if quiet else err.status(f"generating {what}"):
        try:
            path = generate_thermal_dataset(out_dir, cfg, overwrite=overwrite)
        except ValueError as exc:  # a location the data set does not have
            raise ActlineError("--calibration", str(exc)) from None
    say(f"wrote {path} ({what})")
    data = shlex.quote(str(path))
    next_step(f"actline data inspect --data {data}, then actline train --data {data} --out RUN")


@data_app.command("inspect")
@moved_to("--data")
def data_inspect(
    data: Path = data_option(),
    window: int = typer.Option(64, help="Window length in frames."),
    window_mode: str = choice("index", "--window-mode", _window_modes, "index|time",
                              help="index (consecutive frames) or time (resampled)."),
    window_fps: float = typer.Option(10.0, help="Frame rate of time-based windows."),
    montage: Optional[Path] = typer.Option(None, help="Write a PNG montage of example windows per class here."),
    as_json: bool = json_option("Print the summary as JSON."),
    _table: Optional[str] = table_option(),
):
    """Recordings, frames, duration, fps spread, invalid pixels, classes per split, overlap warnings."""
    from actline.data import load_dataset
    from actline.data.inspect import render_montage, summarize

    spec = _window_spec(window, window_mode, window_fps)
    ds = load_dataset(data)
    summary = summarize(ds, spec)
    if as_json:
        print(json.dumps(summary), flush=True)
    else:
        print_summary(summary)
    if montage:
        render_montage(ds, montage, spec)
        err.print(f"wrote {montage}", highlight=False)


def _window_spec(length: int, mode: str, fps: float):
    from actline.data import WindowRule

    try:
        return WindowRule(length=length, mode=mode, fps=fps)
    except ActlineError as exc:  # name the option at fault
        option = {"window.mode": "--window-mode", "window.fps": "--window-fps"}.get(str(exc.where), "--window")
        raise ActlineError(option, exc.message) from None


@app.command("synth-video")
@moved_to("--out")
def synth_video(
    out_dir: Path = out_option("Directory to create: clips/<fine_label>/*.mp4 and long/*.mp4 + .csv."),
    clips_per_action: int = typer.Option(6, help="Clips per fine action."),
    long_videos: int = typer.Option(2, help="Long videos with a ground-truth timeline."),
    long_seconds: float = typer.Option(60.0, help="Seconds per long video."),
    seed: int = typer.Option(0, help="Random seed."),
    overwrite: bool = overwrite_option("OUT"),
    quiet: bool = quiet_option(),
):
    """Write synthetic assembly-line clips as a clip folder (one folder per fine action), and long videos with known timelines."""
    from actline.data.synth.assembly_video import RGBSynthConfig, generate_rgb_dataset

    if out_dir.exists() and not overwrite and any(out_dir.iterdir()):
        raise ActlineError(out_dir, "already exists (add --overwrite to replace it)")
    cfg = RGBSynthConfig(clips_per_action=clips_per_action, long_videos=long_videos, long_seconds=long_seconds,
                         seed=seed)
    with progress_for(quiet) as progress:
        generate_rgb_dataset(out_dir, cfg, overwrite=overwrite, progress=progress)
    say("wrote " + " and ".join(str(out_dir / d) for d in ("clips", "long") if (out_dir / d).is_dir()))
    out = shlex.quote(str(out_dir))
    next_step(f"actline train-timeline --data {out}/clips --out MODEL, then actline timeline MODEL {out}/long")
