"""``actline export``: a model for ONNX Runtime, verified before it is written."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from actline.cli.app import app
from actline.cli.render import out
from actline.core.errors import ActlineError


@app.command()
def export(
    model_dir: Path = typer.Argument(..., help="A clip-classifier or timeline model directory."),
    fmt: str = typer.Option("onnx", "--format", help="Only onnx for now."),
    out_path: Optional[Path] = typer.Option(None, "--out", help="Default: MODEL/model.onnx (classifier), MODEL/onnx/ "
                                            "(timeline)."),
    atol: float = typer.Option(1e-4, help="Largest allowed difference of the probabilities, ONNX Runtime vs PyTorch."),
):
    """Export for ONNX Runtime with classes and preprocessing in the metadata; verified before success."""
    from actline.apps.onnx_export import export_model

    if fmt != "onnx":
        raise ActlineError("--format", f"unknown export format {fmt!r} (known: onnx)")
    r = export_model(model_dir, out_path, atol)
    out.print(f"wrote {r['path']} (ONNX Runtime vs PyTorch: largest probability difference {r['max_abs_diff']:.1e})")
