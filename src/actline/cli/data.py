"""Commands that make and inspect data sets: synth, synth-video, data inspect."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from actline.cli.app import app, data_app
from actline.cli.render import err, out, print_summary
from actline.core.errors import ActlineError


@app.command()
def synth(
    out_dir: Path = typer.Argument(..., help="Directory to create (ThermalDataGen layout)."),
    preset: str = typer.Option("realistic", help="realistic (matches real 40x60 recordings: bursts and gaps, hot "
                               "objects, rooms that are nearly one scenario each) or easy (clean, for quick tests)."),
    recordings: Optional[int] = typer.Option(None, help="Number of recordings (default: the preset's)."),
    duration: Optional[float] = typer.Option(None, help="Seconds per recording (default: the preset's)."),
    locations: Optional[int] = typer.Option(None, help="Rooms the recordings come from (realistic preset)."),
    seed: int = typer.Option(0, help="Random seed: the same seed writes the same data."),
    calibration: Optional[str] = typer.Option(None, help="Realistic preset: instead of the data set, a calibration "
                                              "recording for each location named (comma-separated; 'all' for every "
                                              "one) of the data set these options describe: the same rooms, a short "
                                              "session in which the person does each of the room's activities once."),
    force: bool = typer.Option(False, help="Replace OUT_DIR if it exists."),
):
    """Write a synthetic thermal data set in the ThermalDataGen format (frames/*.h5 + COCO keyframes)."""
    from actline.data.synth.thermal_set import SynthConfig, generate_thermal_dataset

    if out_dir.exists() and not force:
        raise ActlineError(out_dir, "already exists (use --force to replace it)")
    try:
        rooms = None if calibration is None else tuple(r for r in calibration.split(",") if r.strip() not in ("", "all"))
        cfg = SynthConfig(preset=preset, n_recordings=recordings, duration_s=duration, n_locations=locations, seed=seed,
                          calibration=rooms)
    except ValueError as exc:
        raise ActlineError("synth", str(exc)) from None
    with out.status(f"generating {cfg.n_recordings} synthetic recordings ({preset} preset)"):
        try:
            path = generate_thermal_dataset(out_dir, cfg, overwrite=force)
        except ValueError as exc:  # a location the data set does not have
            raise ActlineError("--calibration", str(exc)) from None
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
    from actline.data import WindowRule

    try:
        return WindowRule(length=length, mode=mode, fps=fps)
    except ActlineError as exc:  # name the option at fault
        option = {"window.mode": "--window-mode", "window.fps": "--window-fps"}.get(str(exc.where), "--window")
        raise ActlineError(option, exc.message) from None


@app.command("synth-video")
def synth_video(
    out_dir: Path = typer.Argument(..., help="Directory to create: clips/<fine_label>/*.mp4 and long/*.mp4 + .csv."),
    clips_per_action: int = typer.Option(6, help="Clips per fine action."),
    long_videos: int = typer.Option(2, help="Long videos with a ground-truth timeline."),
    long_seconds: float = typer.Option(60.0, help="Seconds per long video."),
    seed: int = typer.Option(0, help="Random seed."),
    force: bool = typer.Option(False, help="Write into OUT_DIR even if it exists."),
):
    """Write synthetic assembly-line clips in the earlier system's folder layout, and long videos with known timelines."""
    from actline.data.synth.assembly_video import RGBSynthConfig, generate_rgb_dataset

    if out_dir.exists() and not force:
        raise ActlineError(out_dir, "already exists (use --force to write into it)")
    with out.status("rendering synthetic videos"):
        generate_rgb_dataset(out_dir, RGBSynthConfig(clips_per_action=clips_per_action, long_videos=long_videos,
                                                     long_seconds=long_seconds, seed=seed))
    out.print(f"wrote {out_dir / 'clips'} and {out_dir / 'long'}")
