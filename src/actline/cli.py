"""Command line: a thin layer that parses arguments and calls the functions the tests call."""

from __future__ import annotations

import json
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
    from actline.data import WindowSpec, load_dataset
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
def demo(
    out_dir: Path = typer.Option(Path("runs/demo"), "--out", help="Where the demo writes its data and results."),
    seed: int = typer.Option(0, help="Random seed."),
):
    """The main job on the embedded default: synthetic thermal data, then its summary."""
    from actline.data import load_dataset
    from actline.data.inspect import render_montage, summarize
    from actline.data.synth_thermal import SynthConfig, generate_thermal_dataset

    data_dir = out_dir / "data"
    with out.status("generating synthetic thermal data set"):
        generate_thermal_dataset(data_dir, SynthConfig(seed=seed), overwrite=True)
    out.print(f"wrote synthetic data set to {data_dir}")
    ds = load_dataset(data_dir)
    print_summary(summarize(ds))
    png = render_montage(ds, out_dir / "montage.png")
    out.print(f"wrote {png}")


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
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            err.print("aborted")
            sys.exit(130)
        raise


if __name__ == "__main__":
    main()
