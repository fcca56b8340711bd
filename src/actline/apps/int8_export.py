"""``actline export MODEL --int8``: the window's network in int8 for a microcontroller, checked before it is written.

What runs on the device is the model's main network (the CNN on windows cut by its window rule), in its
2-D form (:mod:`actline.models.thermal_edge`) with the rare-class guard folded into its last layer, so its
output is the model's own where the network alone decides. A room gate's other parts stay on the gateway:
the training rooms (``rooms.safetensors``) and the comparison of a sensor's empty room with them, and, for
a room unlike them, the fallback CNN and the trees (``fallback.onnx``, ``shape.onnx``, ``trees.onnx``); so do a fusion
model's trees. A gateway decides once per room whether the device's answer is the model's (a familiar
room) or whether the room's frames go to ``actline stream`` with the whole model.

Two files are written into the model directory, and ``int8.json`` reports on both:

- ``model.int8.onnx``: ONNX Runtime static quantisation (``onnxruntime.quantization.quantize_static``,
  QDQ, int8 weights per channel and int8 activations), input ``[1, 1, T, H, W]`` °C; ``actline.load`` runs it;
- ``model.int8.tflite``: LiteRT int8 (:mod:`actline.apps.litert_export`), input ``[T, 1, H, W]`` int8 (each
  frame less its mean, °C, quantised by the scale and zero point in ``int8.json``), output int8 probabilities.

Both are calibrated on windows of the model's own training data: ``--data`` or the data its config names,
the recordings its run's ``split.json`` trained on (every sample where there is none), windows evenly
spaced over them. Both must give the float network's top-1 on at least ``min_agreement`` of those windows
(ONNX Runtime, and the TensorFlow Lite for Microcontrollers interpreter), else nothing is written.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from actline.core.errors import ActlineError

ONNX_INT8, TFLITE_INT8, REPORT = "model.int8.onnx", "model.int8.tflite", "int8.json"
DEVICE_LIMIT_BYTES = 256 * 1024  # weights and arena of a microcontroller with 256 kB of each


def training_windows(model_dir: Path, cfg: dict, data: str | Path | None, max_windows: int) -> tuple[np.ndarray, dict]:
    """Up to ``max_windows`` windows [N, T, H, W] of the model's training data, evenly spaced, and where they
    came from (data set, split, recordings)."""
    from actline.data import load_dataset
    from actline.data.splits import SPLIT, read_split
    from actline.data.window import WindowRule

    data = data or _training_data(model_dir, cfg)
    if not data:
        raise ActlineError(model_dir, "the model's config names no training data: pass --data DIR")
    if not Path(data).exists():
        raise ActlineError(data, "the model's training data is not here: pass --data DIR")
    ds = load_dataset(data)
    run = model_dir.parent
    if (run / SPLIT).is_file():
        ids = set(read_split(run)["train"]["samples"])
        samples = [s for s in ds.samples if (s.id or f"{s.recording_id}:{s.frame_idx}") in ids]
        split = f"{run / SPLIT} (train)"
    else:
        samples, split = list(ds.samples), "none (no split.json beside the model: every sample)"
    if not samples:
        raise ActlineError(data, "no training windows of this model in the data set (another data set?)")
    pick = np.unique(np.linspace(0, len(samples) - 1, min(max_windows, len(samples))).round().astype(int))
    rule = WindowRule.from_dict(cfg["window"], model_dir)
    windows = np.stack([ds.window(samples[i], rule) for i in pick]).astype(np.float32)
    return windows, {"data": str(ds.root), "split": split, "windows": len(windows),
                     "recordings": sorted({samples[i].recording_id for i in pick})}


def _training_data(model_dir: Path, cfg: dict) -> str | None:
    """The data set the model was trained on: its config's ``data`` (or its metrics'), else its run's ``run.json``."""
    from actline.core.jsonfile import read_json_object
    from actline.runs.rundir import RUN_JSON

    found = cfg.get("data") or (cfg.get("metrics") or {}).get("data") or (cfg.get("training") or {}).get("data")
    if not found and (model_dir.parent / RUN_JSON).is_file():
        found = read_json_object(model_dir.parent / RUN_JSON, 1 << 20, "a run's run.json").get("data")
    return found


def _edge(model_dir: Path, cfg: dict):
    from actline.modeldir.reader import load_model_dir
    from actline.models.thermal_edge import edge_form

    model, _ = load_model_dir(model_dir, "clip-classifier")
    factors = (cfg.get("class_guard") or {}).get("factors")
    return edge_form(model, tuple(cfg["preprocessing"]["frame_shape"]), int(cfg["window"]["length"]), factors)


def _float_probs(edge, windows: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return np.concatenate([edge(torch.from_numpy(w[:, None])).numpy() for w in windows])


class _OneWindow(torch.nn.Module):
    """The edge network taking ``[1, 1, T, H, W]``, the layout every other actline export takes."""

    def __init__(self, edge):
        super().__init__()
        self.edge = edge

    def forward(self, x):
        return self.edge(x.reshape(x.shape[2], 1, x.shape[3], x.shape[4]))


def int8_onnx(edge, windows: np.ndarray, calibration: np.ndarray, meta: dict) -> bytes:
    """The ONNX Runtime static int8 quantisation of ``edge``, calibrated on ``calibration`` windows."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(calibration)

        def get_next(self):
            w = next(self.it, None)
            return None if w is None else {"input": np.ascontiguousarray(w[None, None], dtype=np.float32)}

    with tempfile.TemporaryDirectory() as tmp:
        fp32, int8 = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        torch.onnx.export(_OneWindow(edge).eval(), (torch.from_numpy(windows[:1, None]),), str(fp32),
                          input_names=["input"], output_names=["output"], opset_version=17, dynamo=False)
        quantize_static(str(fp32), str(int8), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
        proto = onnx.load(str(int8))
    for k, v in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def _onnx_check(blob: bytes, windows: np.ndarray) -> tuple[np.ndarray, float]:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(blob, opts, providers=["CPUExecutionProvider"])
    out, times = [], []
    for w in windows:
        t0 = time.perf_counter()
        out.append(sess.run(None, {"input": w[None, None]})[0][0])
        times.append(time.perf_counter() - t0)
    return np.stack(out), float(np.median(times)) * 1e3


def _weights_bytes(flatbuffer: bytes) -> int:
    """Bytes of the constant buffers (weights, biases, quantisation tables' data) of a LiteRT model."""
    from tflite_micro.python.tflite_micro import runtime

    model = runtime.convert_bytearray_to_object(bytearray(flatbuffer))
    return int(sum(len(b.data) for b in model.buffers if b.data is not None))


def export_int8(model_dir: str | Path, data: str | Path | None = None, min_agreement: float = 0.97,
                max_windows: int = 256, calibration: int = 64) -> dict:
    """Write ``model.int8.onnx``, ``model.int8.tflite`` and ``int8.json`` into ``model_dir`` once both agree with
    the float network's top-1 on at least ``min_agreement`` of up to ``max_windows`` training windows (the first
    ``calibration`` of them, evenly spaced, calibrate). Returns the report."""
    from actline.apps.litert_export import MicroRunner, int8_tflite, peak_arena
    from actline.modeldir.directory import WEIGHTS, add_file, read_config

    model_dir = Path(model_dir)
    cfg = read_config(model_dir)
    if cfg.get("pipeline") != "clip-classifier" or not (model_dir / WEIGHTS).is_file():
        raise ActlineError(model_dir, "--int8 takes a clip classifier's model directory with its PyTorch weights")
    if not 0.0 < min_agreement <= 1.0:
        raise ActlineError("--min-agreement", f"must be in (0, 1], got {min_agreement}")
    edge = _edge(model_dir, cfg)
    windows, source = training_windows(model_dir, cfg, data, max_windows)
    calib = windows[np.unique(np.linspace(0, len(windows) - 1, min(calibration, len(windows))).round().astype(int))]
    want = _float_probs(edge, windows).argmax(axis=1)
    meta = {k: cfg[k] for k in ("pipeline", "classes", "window", "preprocessing") if k in cfg}
    meta.update(input="[1, 1, T, H, W] float32 °C, sentinels filled (actline.data.window.fill_invalid)",
                output="[1, K] class probabilities (the rare-class guard applied)", role="int8 network (device)")
    onnx_blob = int8_onnx(edge, windows, calib, {"actline_config": json.dumps(meta),
                                                 "classes": json.dumps(cfg["classes"])})
    onnx_probs, onnx_ms = _onnx_check(onnx_blob, windows)
    tflite = int8_tflite(edge, calib, input_range(windows, edge.clip_c))
    arena = peak_arena(tflite)
    runner = MicroRunner(tflite, arena)
    micro_probs = np.stack([runner.probs(w) for w in windows])
    report = {"calibration": {**source, "calibration_windows": len(calib)},
              "device": "the main network on windows cut by the model's window rule, the rare-class guard folded in",
              "gateway": _gateway_parts(cfg), "min_agreement": min_agreement,
              "onnx": {"file": ONNX_INT8, "bytes": len(onnx_blob), "top1_agreement": _agree(onnx_probs, want),
                       "latency_ms": round(onnx_ms, 3), "runtime": "ONNX Runtime, 1 thread"},
              "tflite": {"file": TFLITE_INT8, "bytes": len(tflite), "weights_bytes": _weights_bytes(tflite),
                         "arena_bytes": arena, "top1_agreement": _agree(micro_probs, want),
                         "latency_ms": round(float(np.median(runner.times)) * 1e3, 3),
                         "runtime": "TensorFlow Lite for Microcontrollers reference kernels, on this machine's CPU",
                         "input": {"shape": [int(v) for v in runner.shape], "centred": "each frame's mean "
                                   "subtracted (°C) before quantising", **(runner.input_quantisation or {}),
                                   "range_c": runner.input_range}}}
    report["tflite"]["fits_256kB"] = max(report["tflite"]["weights_bytes"], arena) <= DEVICE_LIMIT_BYTES
    worst = min(report["onnx"]["top1_agreement"], report["tflite"]["top1_agreement"])
    if worst < min_agreement:
        raise ActlineError(model_dir, f"int8 top-1 agrees with the float network on only {worst:.1%} of "
                                      f"{len(windows)} training windows (ONNX {report['onnx']['top1_agreement']:.1%}, "
                                      f"TFLM {report['tflite']['top1_agreement']:.1%}; need {min_agreement:.1%}); "
                                      "nothing written")
    add_file(model_dir, ONNX_INT8, lambda p: p.write_bytes(onnx_blob))
    add_file(model_dir, TFLITE_INT8, lambda p: p.write_bytes(tflite))
    add_file(model_dir, REPORT, lambda p: p.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8"))
    return report


INPUT_MARGIN_C = 5.0  # °C beyond the training windows' coldest and warmest readings that the int8 input keeps


def input_range(windows: np.ndarray, clip_c: float | None = None) -> tuple[float, float]:
    """The °C from each frame's mean that the device's int8 input represents: the training windows' range
    (frames centred) widened by ``INPUT_MARGIN_C`` each way, no wider than the network's own clamp
    (``clip_c``), and 0 inside it (TFLite's zero point must be a representable value)."""
    from actline.apps.litert_export import centre

    c = centre(windows)
    lo, hi = float(np.min(c)) - INPUT_MARGIN_C, float(np.max(c)) + INPUT_MARGIN_C
    if clip_c is not None:
        lo, hi = max(lo, -clip_c), min(hi, clip_c)
    return min(lo, 0.0), max(hi, 0.0)


def _agree(probs: np.ndarray, want: np.ndarray) -> float:
    return round(float((probs.argmax(axis=1) == want).mean()), 4)


def _gateway_parts(cfg: dict) -> list[str]:
    """What of the model stays on the gateway (the device runs the main network alone)."""
    out = []
    if cfg.get("room_gate"):
        out.append("room gate: the training rooms (rooms.safetensors), the sensor's empty room and their similarity")
        gate = cfg["room_gate"]
        out.append("in unfamiliar rooms: " + ", ".join(
            ["the CNN (model.onnx)"] * bool(gate.get("shape")) + ["the fallback CNN (fallback.onnx)"] * bool(gate.get("fallback"))
            + (["the shape trees (shape.onnx)"] if gate.get("shape") else ["the trees (trees.onnx)"])))
    if (cfg.get("arch") or {}).get("name") == "fusion":
        out.append("the fusion's trees (trees.onnx), fused with the device's probabilities")
    return out
