"""``actline report``: one self-contained HTML page for a run or a timeline model."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from actline.cli.app import app
from actline.cli.options import out_option
from actline.cli.render import say


@app.command()
def report(
    run: Path = typer.Argument(..., metavar="RUN_OR_MODEL",
                               help="A training run directory, or a timeline model directory."),
    out_path: Path = out_option("HTML file to write.", Path("report.html")),
    video: Optional[Path] = typer.Option(None, help="Timeline models: the video or thermal recording to show."),
    timeline_file: Optional[Path] = typer.Option(None, "--timeline", help="Timeline models: a timeline already made "
                                                 "for --video (default: computed now)."),
):
    """One self-contained HTML report (opens from disk, no server, no network)."""
    from actline.apps.html_report import build_report

    path = build_report(run, out_path, video, timeline_file)
    say(f"wrote {path} (opens from disk in a browser)")
