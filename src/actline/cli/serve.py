"""``actline serve``: the models behind an HTTP service."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from actline.cli.app import app
from actline.cli.options import backend_option, device_option, flag, threads_option


@app.command()
def serve(
    models: list[Path] = typer.Argument(..., metavar="MODELS",
                                        help="A clip classifier (model dir or .onnx) and/or a timeline model."),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on; beyond loopback a token is required."),
    port: int = typer.Option(8000, help="Port to listen on."),
    token: str = typer.Option(None, envvar="ACTLINE_TOKEN", help="API token (prefer the ACTLINE_TOKEN variable)."),
    allowed_host: list[str] = typer.Option([], help="A Host name clients use besides localhost (repeatable)."),
    device: Optional[str] = device_option(),
    threads: int = threads_option(),
    backend: Optional[str] = backend_option(),
    public_metrics: bool = flag("--public-metrics", "Serve /metrics, /docs and /openapi.json without the token."),
    insecure_no_token: bool = flag("--insecure-no-token", "Listen beyond loopback without a token (not advised)."),
    max_body_mb: float = typer.Option(64.0, help="Largest request body or upload."),
    max_window_mb: float = typer.Option(8.0, help="Largest /v1/predict body (one window)."),
    timeout: float = typer.Option(30.0, help="Per-request prediction timeout in s."),
    queue: int = typer.Option(4, help="Timeline jobs in progress before 429."),
    job_timeout: float = typer.Option(600.0, help="A timeline job fails after this many s (its files removed)."),
):
    """HTTP service: /v1/predict, /v1/timeline + /v1/jobs/{id}, /v1/model, /healthz, /metrics, /docs."""
    from actline.apps.serve import ServeConfig
    from actline.apps.serve import serve as run

    run(models, ServeConfig(host=host, port=port, token=token, allowed_hosts=tuple(allowed_host),
                            public_metrics=public_metrics, insecure_no_token=insecure_no_token, max_body_mb=max_body_mb,
                            max_window_mb=max_window_mb,
                            timeout_s=timeout, queue_size=queue, job_timeout_s=job_timeout, backend=backend,
                            device=device or "auto", threads=threads))
