"""The int8 network of ``actline export --int8`` beside the float one: size, arena, latency, agreement, accuracy.

Run: .venv/bin/python benchmarks/int8_export.py --model RUN/model [--data DATA] [--windows 256] [--min-agreement 0.97]

``--model`` is a trained clip classifier in its run directory (``RUN/split.json`` says which recordings trained
it and which were held out); ``--data`` its data set (default: the one it names). The model directory is copied
to a temporary directory with its run's ``split.json`` and ``run.json`` and exported there with ``--int8``
(calibrated on up to ``--windows`` training windows); nothing is written beside the model itself. Then, on the
windows of the recordings the run held out (up to ``--windows``): top-1 and macro-F1 against the labels, and
top-1 agreement with the float network, for the float network (PyTorch, the 2-D form the device runs, the rare-
class guard applied), ONNX Runtime int8 and the TensorFlow Lite for Microcontrollers interpreter on the int8
flatbuffer. Sizes are the files'; latency is per window on one thread of this machine (TFLM's reference kernels
on an x86 core, not a microcontroller's).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from actline.apps.int8_export import _edge, _float_probs, _training_data, export_int8
from actline.apps.litert_export import MicroRunner
from actline.data import load_dataset
from actline.data.splits import SPLIT, read_split
from actline.data.window import WindowRule
from actline.metrics.classification import summary_metrics
from actline.modeldir.directory import read_config


def held_out(model: Path, cfg: dict, data, n: int):
    ds = load_dataset(data)
    ids = set(read_split(model.parent)["eval"]["samples"])
    samples = [s for s in ds.samples if (s.id or f"{s.recording_id}:{s.frame_idx}") in ids]
    if not samples:
        raise SystemExit(f"no held-out windows of {model} in {data}")
    pick = np.unique(np.linspace(0, len(samples) - 1, min(n, len(samples))).round().astype(int))
    rule = WindowRule.from_dict(cfg["window"])
    windows = np.stack([ds.window(samples[i], rule) for i in pick]).astype(np.float32)
    return windows, ds.labels([samples[i] for i in pick])


def _timed(fn, windows) -> tuple[np.ndarray, float]:
    out, times = [], []
    for w in windows:
        t0 = time.perf_counter()
        out.append(np.asarray(fn(w)).reshape(-1))
        times.append(time.perf_counter() - t0)
    return np.stack(out), float(np.median(times)) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--data", type=Path)
    ap.add_argument("--windows", type=int, default=256)
    ap.add_argument("--min-agreement", type=float, default=0.97)
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = read_config(args.model)
    data = args.data or _training_data(args.model, cfg)
    if not (args.model.parent / SPLIT).is_file():
        raise SystemExit(f"{args.model.parent / SPLIT} not found: the benchmark needs the run's held-out recordings")
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        shutil.copytree(args.model, run / "model")
        for name in (SPLIT, "run.json"):
            if (args.model.parent / name).is_file():
                shutil.copyfile(args.model.parent / name, run / name)
        t0 = time.perf_counter()
        rep = export_int8(run / "model", data, args.min_agreement, max_windows=args.windows)
        export_s = time.perf_counter() - t0
        if not (run / "model" / "model.onnx").is_file():
            from actline.apps.onnx_export import export_model

            export_model(run / "model")
        windows, labels = held_out(args.model, cfg, data, args.windows)
        edge = _edge(run / "model", cfg)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        q = ort.InferenceSession(str(run / "model" / "model.int8.onnx"), opts, providers=["CPUExecutionProvider"])
        f = ort.InferenceSession(str(run / "model" / "model.onnx"), opts, providers=["CPUExecutionProvider"])
        runner = MicroRunner((run / "model" / "model.int8.tflite").read_bytes(), rep["tflite"]["arena_bytes"])
        rows = {"float (PyTorch, 2-D form)": _timed(lambda w: _float_probs(edge, w[None]), windows),
                "float ONNX (model.onnx, CNN)": _timed(lambda w: f.run(None, {"input": w[None, None]})[0], windows),
                "int8 ONNX Runtime": _timed(lambda w: q.run(None, {"input": w[None, None]})[0], windows),
                "int8 TFLM": _timed(runner.probs, windows)}
        sizes = {"float ONNX (model.onnx, CNN)": (run / "model" / "model.onnx").stat().st_size,
                 "int8 ONNX Runtime": rep["onnx"]["bytes"], "int8 TFLM": rep["tflite"]["bytes"]}
    ref = rows["float (PyTorch, 2-D form)"][0].argmax(axis=1)
    print(f"{args.model}: int8 export in {export_s:.0f} s, calibrated on {rep['calibration']['windows']} training "
          f"windows ({rep['calibration']['data']}); training windows' top-1 as float: ONNX "
          f"{rep['onnx']['top1_agreement']:.1%}, TFLM {rep['tflite']['top1_agreement']:.1%}; TFLM arena "
          f"{rep['tflite']['arena_bytes'] / 1024:.0f} kB, weights {rep['tflite']['weights_bytes'] / 1024:.0f} kB")
    print(f"{len(windows)} held-out windows, 1 thread:")
    print(f"| {'network':<26} | {'file kB':>8} | {'ms/window':>9} | {'top-1 %':>7} | {'macro-F1 %':>10} | "
          f"{'same top-1 as float %':>21} |")
    print(f"|{'-' * 28}|{'-' * 10}|{'-' * 11}|{'-' * 9}|{'-' * 12}|{'-' * 23}|")
    for name, (p, ms) in rows.items():
        m = summary_metrics(labels, p)
        size = f"{sizes[name] / 1024:8.0f}" if name in sizes else f"{'-':>8}"
        print(f"| {name:<26} | {size} | {ms:9.2f} | {m['top1']:7.1f} | {m['macro_f1']:10.1f} | "
              f"{100 * (p.argmax(axis=1) == ref).mean():21.1f} |")
    print(json.dumps({"gateway": rep["gateway"], "tflite_input": rep["tflite"]["input"]}))


if __name__ == "__main__":
    main()
