"""``actline serve``: the models behind an HTTP service."""

from __future__ import annotations

from pathlib import Path

import typer

from actline.cli.app import app


@app.command()
def serve(
    models: list[Path] = typer.Argument(..., help="A clip classifier (model dir or .onnx) and/or a timeline model."),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (loopback by default)."),
    port: int = typer.Option(8000),
    max_body_mb: float = typer.Option(64.0, help="Largest request body or upload."),
    timeout: float = typer.Option(30.0, help="Per-request prediction timeout in s."),
    queue: int = typer.Option(4, help="Timeline jobs queued or running before 429."),
):
    """HTTP service: /v1/predict, /v1/timeline + /v1/jobs/{id}, /v1/model, /healthz, /metrics, /openapi.json."""
    from actline.apps.serve import ServeConfig
    from actline.apps.serve import serve as run

    run(models, host, port, ServeConfig(max_body_mb=max_body_mb, timeout_s=timeout, queue_size=queue))
