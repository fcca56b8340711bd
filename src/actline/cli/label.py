"""``actline label``: label recordings in the browser, and answer the review queue."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from actline.cli.app import app
from actline.cli.options import data_option
from actline.cli.render import err


@app.command()
def label(
    data: Path = data_option("The labelled data set (frames/ and annotations/) to label."),
    review: Optional[Path] = typer.Option(None, help="A review queue folder to answer (stream --collect, "
                                                     "predict --review)."),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on; beyond loopback a token is required."),
    port: int = typer.Option(8765, help="Port to listen on."),
    token: str = typer.Option(None, envvar="ACTLINE_TOKEN", help="Access token (prefer the ACTLINE_TOKEN variable)."),
    allowed_host: list[str] = typer.Option([], help="A Host name the browser uses besides localhost (repeatable)."),
):
    """A web page to label recordings (mark, move and delete segments, then save), and to answer review items."""
    from actline.apps.label import run_label
    from actline.apps.serve import ServeConfig

    cfg = ServeConfig(host=host, port=port, token=token, allowed_hosts=tuple(allowed_host))
    run_label(data, review, cfg, announce=lambda url: err.print(
        f"label page: {url}" + ("#token=<your token>" if token else "") + "  (Ctrl+C stops it)", highlight=False))
