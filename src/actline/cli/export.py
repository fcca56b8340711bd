"""``actline export``: a model for ONNX Runtime, verified before it is written."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Optional

import typer

from actline.cli.app import app
from actline.cli.options import choice, data_option, flag, out_option
from actline.cli.render import next_step, say


@app.command()
def export(
    model_dir: Path = typer.Argument(..., metavar="MODEL", help="A clip-classifier or timeline model directory."),
    fmt: str = choice("onnx", "--format", lambda: ("onnx",), "onnx", help="Only onnx for now."),
    out_path: Optional[Path] = out_option("Default: MODEL/model.onnx (classifier), MODEL/onnx/ (timeline).", None),
    atol: float = typer.Option(1e-4, help="Largest allowed difference of the probabilities, ONNX Runtime vs PyTorch."),
    int8: bool = flag("--int8", "Also an int8 network for microcontrollers: MODEL/model.int8.onnx and "
                      "MODEL/model.int8.tflite, calibrated on the model's training windows and checked on ONNX Runtime "
                      "and TensorFlow Lite for Microcontrollers (pip install 'actline[edge]')."),
    data: Optional[Path] = data_option("--int8: the training data (default: the data the model's config names).",
                                       False),
    min_agreement: float = typer.Option(0.97, help="--int8: least share of training windows where the int8 top-1 "
                                        "must equal the float network's, else nothing is written."),
):
    """Export for ONNX Runtime with classes and preprocessing in the metadata; verified before success."""
    from actline.apps.onnx_export import export_model

    if int8:
        from actline.apps.int8_export import export_int8

        rep = export_int8(model_dir, data, min_agreement)
        t, o = rep["tflite"], rep["onnx"]
        say(f"wrote {model_dir / o['file']} ({o['bytes'] / 1024:.0f} kB, top-1 as float on "
            f"{o['top1_agreement']:.1%}, {o['latency_ms']:.2f} ms a window) and {model_dir / t['file']} "
            f"({t['weights_bytes'] / 1024:.0f} kB of weights, {t['arena_bytes'] / 1024:.0f} kB arena, top-1 as "
            f"float on {t['top1_agreement']:.1%} under TFLM, {t['latency_ms']:.1f} ms a window here), "
            f"calibrated on {rep['calibration']['windows']} training windows of {rep['calibration']['data']}")
        return
    r = export_model(model_dir, out_path, atol)
    say(f"wrote {r['path']} (ONNX Runtime vs PyTorch: largest probability difference {r['max_abs_diff']:.1e})")
    path = shlex.quote(str(r["path"]))
    next_step(f"actline predict {path} RECORDING.h5 (no torch needed), or actline stream {path} --replay RECORDING.h5"
              if str(r["path"]).endswith(".onnx") else f"actline timeline {path} VIDEOS (no torch needed)")
