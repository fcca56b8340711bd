"""A window's network as an int8 LiteRT (TFLite) flatbuffer, run by TensorFlow Lite for Microcontrollers.

- :func:`int8_tflite`: the network's 2-D form (:func:`~actline.models.thermal_edge.edge_form`) converted by
  ``litert-torch`` (``litert_torch.convert``) to a float flatbuffer, then quantised by ``ai-edge-quantizer``
  (``static_wi8_ai8``: int8 weights per channel and int8 activations, calibrated on real windows with each
  tensor's whole range over them, not the quantiser's moving average), input and output int8 too, so a device
  hands it its frames quantised and no float tensor is ever allocated;
- :class:`MicroRunner`: the ``tflite-micro`` package's interpreter (``tflite_micro.runtime.Interpreter``:
  ``from_bytes(model, arena_size=)``, ``set_input``, ``invoke``, ``get_output``, ``get_input_details``),
  the reference kernels a microcontroller runs; :func:`peak_arena` finds the smallest tensor arena the
  interpreter allocates the model in (to 1 kB).

Each of these packages comes with ``pip install 'actline[edge]'``; none is imported before it is needed.
"""

from __future__ import annotations

import time

import numpy as np

from actline.core.errors import ActlineError

EDGE_EXTRA = "pip install 'actline[edge]'"
MAX_ARENA = 16 << 20  # an arena the bisection never goes past


def _need(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ActlineError("--int8", f"the int8 export needs {module.split('.')[0]} ({EDGE_EXTRA}): {exc}") from None


def int8_tflite(edge, windows: np.ndarray, input_range_c: tuple[float, float] | None = None) -> bytes:
    """The int8 flatbuffer of ``edge`` (an :class:`~actline.models.thermal_edge.EdgeR2Plus1D`), calibrated on
    ``windows`` [N, T, H, W] °C.

    Its input is each frame with the frame's mean subtracted (:func:`centre`; the network removes each frame's
    mean first, so its output is the same). Int8 then spends its 256 steps on how the person and the room
    differ from the frame's mean, not on the room's absolute temperature: a tensor's int8 range must hold
    0 °C, so 22-26 °C frames quantised as they are would get steps of 0.1 °C, a quarter of the contrast of a
    16×16 sensor. ``input_range_c`` (°C from the frame's mean) sets the input's range; by default the
    calibration windows' own."""
    import torch

    windows = centre(windows)
    litert_torch = _need("litert_torch")
    quantizer, recipe = _need("ai_edge_quantizer.quantizer"), _need("ai_edge_quantizer.recipe")
    example = torch.from_numpy(np.ascontiguousarray(windows[0][:, None], dtype=np.float32))
    try:
        fp32 = bytes(litert_torch.convert(edge.eval(), (example,)).model_content())
        q = quantizer.Quantizer(bytearray(fp32), recipe.static_wi8_ai8())
        key, name, tensor = _signature(fp32)
        ranges: dict = {}  # each tensor's range over every window, as ONNX Runtime's MinMax calibration takes it
        for w in windows:  # one window a call: the quantiser's own update is a moving average that favours the last
            one = q.calibrate({key: [{name: np.ascontiguousarray(w[:, None], dtype=np.float32)}]}, num_threads=1)
            ranges = {t: _widest(ranges.get(t), v) for t, v in one.items()}
        if input_range_c is not None:
            lo, hi = min(input_range_c[0], 0.0), max(input_range_c[1], 0.0)
            ranges[tensor] = {**ranges[tensor], "min": np.array([lo], np.float32), "max": np.array([hi], np.float32)}
        result = q.quantize(ranges)
    except ActlineError:
        raise
    except Exception as exc:  # noqa: BLE001 - a converter's failure is reported in one line, nothing written
        raise ActlineError("--int8", f"LiteRT conversion failed ({type(exc).__name__}: "
                                     f"{str(exc).strip().splitlines()[0][:300]})") from None
    return bytes(result.quantized_model)


def centre(windows: np.ndarray) -> np.ndarray:
    """Windows [..., H, W] °C with each frame's mean subtracted: what the int8 flatbuffer takes."""
    x = np.asarray(windows, np.float32)
    return x - x.mean(axis=(-2, -1), keepdims=True)


def _widest(a: dict | None, b: dict) -> dict:
    """Two calibration statistics of one tensor ({"min", "max"} arrays) merged: the lower min, the higher max."""
    if not a:
        return dict(b)
    return {**b, "min": np.minimum(a["min"], b["min"]), "max": np.maximum(a["max"], b["max"])}


def _signature(flatbuffer: bytes) -> tuple[str, str, str]:
    """(signature key, input name, input tensor) of a converted model: what the quantiser's calibration data is
    keyed by, and the tensor whose range the calibration result gives under that name."""
    interpreter = _need("ai_edge_litert.interpreter").Interpreter(model_content=flatbuffer)
    key, sig = next(iter(interpreter.get_signature_list().items()))
    return key, sig["inputs"][0], interpreter.get_input_details()[0]["name"]


def _interpreter(model: bytes, arena: int):
    runtime = _need("tflite_micro.python.tflite_micro.runtime")
    return runtime.Interpreter.from_bytes(bytes(model), arena_size=int(arena))


def peak_arena(model: bytes) -> int:
    """The smallest tensor arena (bytes, to 1 kB) in which the TFLM interpreter allocates ``model``."""
    def fits(n: int) -> bool:
        try:
            _interpreter(model, n)
            return True
        except (RuntimeError, ValueError):
            return False

    if not fits(MAX_ARENA):
        raise ActlineError("--int8", f"TFLM cannot allocate the model even in {MAX_ARENA >> 20} MB (unsupported "
                                     "operation or type)")
    lo, hi = 1024, MAX_ARENA
    while hi - lo > 1024:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if fits(mid) else (mid, hi)
    return hi


class MicroRunner:
    """``model`` on the TFLM interpreter: float windows in (centred and quantised as its input says), probabilities
    out."""

    def __init__(self, model: bytes, arena: int):
        self.interpreter = _interpreter(model, arena + 4096)
        inp, out = self.interpreter.get_input_details(0), self.interpreter.get_output_details(0)
        self.shape, self.in_dtype = tuple(inp["shape"]), inp["dtype"]
        self.in_q = _scale_zero(inp)
        self.out_q = _scale_zero(out)
        self.times: list[float] = []

    def quantise(self, window: np.ndarray) -> np.ndarray:
        """A window [T, H, W] °C as the device gives it to the network: each frame less its mean, in int8."""
        x = centre(window)[:, None].reshape(self.shape)
        if self.in_q is None:
            return x
        scale, zero = self.in_q
        info = np.iinfo(self.in_dtype)
        return np.clip(np.round(x / scale) + zero, info.min, info.max).astype(self.in_dtype)

    def probs(self, window: np.ndarray) -> np.ndarray:
        x = self.quantise(window)
        t0 = time.perf_counter()
        self.interpreter.set_input(x, 0)
        self.interpreter.invoke()
        y = self.interpreter.get_output(0)
        self.times.append(time.perf_counter() - t0)
        if self.out_q is not None:
            y = (y.astype(np.float32) - self.out_q[1]) * self.out_q[0]
        return np.asarray(y, np.float32).reshape(-1)

    @property
    def input_range(self) -> list[float] | None:
        """The °C from the frame's mean an int8 input represents (readings beyond are clipped to its ends)."""
        if self.in_q is None:
            return None
        info, (scale, zero) = np.iinfo(self.in_dtype), self.in_q
        return [round((info.min - zero) * scale, 2), round((info.max - zero) * scale, 2)]

    @property
    def input_quantisation(self) -> dict | None:
        return None if self.in_q is None else {"scale": float(self.in_q[0]), "zero_point": int(self.in_q[1]),
                                               "dtype": np.dtype(self.in_dtype).name}


def _scale_zero(details: dict) -> tuple[float, int] | None:
    q = details.get("quantization_parameters") or {}
    scales, zeros = q.get("scales"), q.get("zero_points")
    if scales is None or len(scales) == 0:
        return None
    return float(scales[0]), int(zeros[0])
