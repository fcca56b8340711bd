"""``actline report``: one self-contained HTML page for a run or a timeline model."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from actline.cli.app import app
from actline.cli.render import out


@app.command()
def report(
    run: Path = typer.Argument(..., help="A training run directory, or a timeline model directory."),
    out_path: Path = typer.Option(Path("report.html"), "--out", help="HTML file to write."),
    video: Optional[Path] = typer.Option(None, help="Timeline models: the video or thermal recording to show."),
    timeline_file: Optional[Path] = typer.Option(None, "--timeline", help="Timeline models: a timeline already made "
                                                 "for --video (default: computed now)."),
):
    """One self-contained HTML report (opens from disk, no server, no network)."""
    from actline.apps.html_report import build_report

    path = build_report(run, out_path, video, timeline_file)
    out.print(f"wrote {path}")
