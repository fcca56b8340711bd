"""``actline export``: a model for ONNX Runtime, verified before it is written."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Optional

import typer

from actline.cli.app import app
from actline.cli.options import choice, out_option
from actline.cli.render import next_step, say


@app.command()
def export(
    model_dir: Path = typer.Argument(..., metavar="MODEL", help="A clip-classifier or timeline model directory."),
    fmt: str = choice("onnx", "--format", lambda: ("onnx",), "onnx", help="Only onnx for now."),
    out_path: Optional[Path] = out_option("Default: MODEL/model.onnx (classifier), MODEL/onnx/ (timeline).", None),
    atol: float = typer.Option(1e-4, help="Largest allowed difference of the probabilities, ONNX Runtime vs PyTorch."),
):
    """Export for ONNX Runtime with classes and preprocessing in the metadata; verified before success."""
    from actline.apps.onnx_export import export_model

    r = export_model(model_dir, out_path, atol)
    say(f"wrote {r['path']} (ONNX Runtime vs PyTorch: largest probability difference {r['max_abs_diff']:.1e})")
    path = shlex.quote(str(r["path"]))
    next_step(f"actline predict {path} RECORDING.h5 (no torch needed), or actline stream {path} --replay RECORDING.h5"
              if str(r["path"]).endswith(".onnx") else f"actline timeline {path} VIDEOS (no torch needed)")
