"""Frame payloads a sensor publishes: JSON, or a compact binary form with a fixed header.

**JSON** (UTF-8): ``{"t": 1718000000.25, "frame": [[20.1, 20.3, ...], ...]}``: ``t`` in seconds
(any epoch, increasing per sensor), ``frame`` a rectangular list of rows of °C values.

**Binary**: a 20-byte little-endian header, then the pixels row-major:

====== ===== ========= =========================================================
offset bytes type      field
====== ===== ========= =========================================================
0      4     bytes     magic ``b"ACTF"``
4      1     uint8     version, 1
5      1     uint8     dtype: 1 = float32 °C, 2 = int16 centi-degrees (°C × 100)
6      2     uint16    height
8      2     uint16    width
10     2     uint16    reserved, 0
12     8     float64   timestamp, seconds
20     ...   dtype     height × width pixels
====== ===== ========= =========================================================

Anything else (wrong magic or version, sizes that disagree, frames larger than ``MAX_SIDE``,
NaN or infinite values or time, JSON that is not this shape) is refused with a :class:`PayloadError`
naming what is wrong; the sizes are checked before anything is allocated.
"""

from __future__ import annotations

import json
import math
import struct

import numpy as np

from actline.core.errors import ActlineError

MAGIC, VERSION = b"ACTF", 1
HEADER = struct.Struct("<4sBBHHHd")
DTYPES = {1: np.dtype("<f4"), 2: np.dtype("<i2")}
FLOAT32, INT16_CENTI = 1, 2
MAX_SIDE = 512  # pixels per side; real ceiling sensors have 16-80
MAX_JSON_BYTES = 4 << 20
MAX_PAYLOAD_BYTES = max(MAX_JSON_BYTES, 20 + MAX_SIDE * MAX_SIDE * 4)  # larger is no frame: dropped at intake


class PayloadError(ActlineError):
    pass


def encode_binary(frame: np.ndarray, t: float, dtype: int = FLOAT32) -> bytes:
    """The binary payload of one frame (what a sensor gateway would send)."""
    x = np.asarray(frame, dtype=np.float32)
    h, w = x.shape
    data = x.astype("<f4") if dtype == FLOAT32 else np.round(x * 100).astype("<i2")
    return HEADER.pack(MAGIC, VERSION, dtype, h, w, 0, float(t)) + data.tobytes()


def encode_json(frame: np.ndarray, t: float) -> bytes:
    return json.dumps({"t": float(t), "frame": np.asarray(frame, dtype=float).round(3).tolist()}).encode()


def decode(payload: bytes) -> tuple[float, np.ndarray]:
    """(timestamp s, frame [H, W] float32 °C) from either form."""
    if payload[:4] == MAGIC:
        return _decode_binary(payload)
    return _decode_json(payload)


def _decode_binary(payload: bytes) -> tuple[float, np.ndarray]:
    if len(payload) < HEADER.size:
        raise PayloadError("payload", f"binary header needs {HEADER.size} bytes, got {len(payload)}")
    _, version, dtype, h, w, _, t = HEADER.unpack_from(payload)
    if version != VERSION:
        raise PayloadError("payload", f"binary version {version} (this build reads {VERSION})")
    if dtype not in DTYPES:
        raise PayloadError("payload", f"unknown dtype code {dtype} (1: float32 °C, 2: int16 centi-degrees)")
    if not (0 < h <= MAX_SIDE and 0 < w <= MAX_SIDE):
        raise PayloadError("payload", f"frame {h}x{w} outside 1..{MAX_SIDE} per side")
    want = HEADER.size + h * w * DTYPES[dtype].itemsize
    if len(payload) != want:
        raise PayloadError("payload", f"{h}x{w} {DTYPES[dtype].name} needs {want} bytes, got {len(payload)}")
    x = np.frombuffer(payload, DTYPES[dtype], h * w, HEADER.size).reshape(h, w).astype(np.float32)
    if dtype == INT16_CENTI:
        x /= 100.0
    return _checked(t, x)


def _decode_json(payload: bytes) -> tuple[float, np.ndarray]:
    if len(payload) > MAX_JSON_BYTES:
        raise PayloadError("payload", f"JSON payload of {len(payload)} bytes (at most {MAX_JSON_BYTES})")
    try:
        obj = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise PayloadError("payload", f"neither the binary form nor JSON ({type(exc).__name__})") from None
    if not isinstance(obj, dict) or "t" not in obj or "frame" not in obj:
        raise PayloadError("payload", 'JSON must be an object {"t": seconds, "frame": [[...], ...]}')
    t, rows = obj["t"], obj["frame"]
    if not isinstance(t, (int, float)) or isinstance(t, bool):
        raise PayloadError("payload", f"'t' must be a number of seconds, got {type(t).__name__}")
    if not (isinstance(rows, list) and 0 < len(rows) <= MAX_SIDE and all(isinstance(r, list) for r in rows)):
        raise PayloadError("payload", f"'frame' must be a list of 1..{MAX_SIDE} rows")
    w = len(rows[0])
    if not 0 < w <= MAX_SIDE or any(len(r) != w for r in rows):
        raise PayloadError("payload", f"'frame' rows must all have the same length, 1..{MAX_SIDE}")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for r in rows for v in r):
        raise PayloadError("payload", "'frame' values must be numbers (°C)")
    return _checked(float(t), np.asarray(rows, dtype=np.float32))


def _checked(t: float, x: np.ndarray) -> tuple[float, np.ndarray]:
    if not math.isfinite(t):
        raise PayloadError("payload", f"timestamp must be finite, got {t}")
    if not np.isfinite(x).all():
        raise PayloadError("payload", "frame holds NaN or infinite values")
    return float(t), x
