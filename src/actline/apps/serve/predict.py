"""``POST /v1/predict``: one window in, one prediction out.

Every field is checked before the model sees it (400 with one line). Predictions run in a pool of
``predict_workers`` threads; at most ``predict_backlog`` more may wait. A request that finds the
pool full gets 503 with ``Retry-After``; one that waits longer than ``timeout_s`` gets 504, and
its prediction keeps its place in the pool until it really ends, so timed-out work cannot pile up.
"""

from __future__ import annotations

import asyncio
import io
import json
import math
import threading
import tokenize
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from fastapi import APIRouter, Depends, HTTPException, Request

from actline.apps.serve.body import media_type, read_body
from actline.apps.serve.security import refuse_cross_site, require_token

router = APIRouter(dependencies=[Depends(require_token)])
FIELDS = ("frames", "timestamps")
NPY_TYPES = ("application/octet-stream", "application/x-npy")
MAX_NPY_DIMS = 8  # a window is [T, H, W]; numpy itself stops at 64


class Busy(Exception):
    """The prediction pool and its backlog are full."""


class PredictPool:
    def __init__(self, workers: int, backlog: int):
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="actline-predict")
        self._slots = threading.BoundedSemaphore(workers + backlog)

    async def run(self, fn: Callable[[], Any], timeout_s: float) -> Any:
        """``fn()`` in the pool; :class:`Busy` at once when full, ``TimeoutError`` after ``timeout_s``."""
        if not self._slots.acquire(blocking=False):
            raise Busy
        try:
            fut = self._pool.submit(fn)
        except BaseException:
            self._slots.release()
            raise
        fut.add_done_callback(lambda _f: self._slots.release())  # when the work really ends
        return await asyncio.wait_for(asyncio.wrap_future(fut), timeout_s)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _bad(message: str) -> HTTPException:
    """400 with one line (numpy's own messages may span lines)."""
    return HTTPException(400, "cannot read the window: " + " ".join(message.split()))


def _numbers(value, name: str) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # numpy warns before some conversions fail
            arr = np.asarray(value)
    except (ValueError, TypeError, OverflowError, RecursionError, Warning):
        raise _bad(f"'{name}' must be a regular (not ragged) array of numbers") from None
    if arr.dtype.kind not in "iuf":
        raise _bad(f"'{name}' must hold numbers only")
    return arr


def _from_json(body: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        obj = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise _bad(f"not JSON ({type(exc).__name__}: {str(exc)[:100]})") from None
    if not isinstance(obj, dict) or "frames" not in obj:
        raise _bad('expected {"frames": [[[...]]], "timestamps": [...] (optional)}')
    unknown = sorted(set(obj) - set(FIELDS))
    if unknown:
        raise _bad(f"unknown field(s) {unknown[:5]} (expected {', '.join(FIELDS)})")
    frames = _numbers(obj["frames"], "frames")
    if obj.get("timestamps") is None:
        return frames, None
    ts = _numbers(obj["timestamps"], "timestamps")
    if ts.ndim != 1:
        raise _bad("'timestamps' must be a list of seconds, one per frame")
    return frames, ts


def _from_npy(body: bytes) -> np.ndarray:
    """A ``.npy`` body: its header checked (numeric dtype, a sane shape, data size present) before numpy reads it."""
    buf = io.BytesIO(body)
    try:
        version = np.lib.format.read_magic(buf)
        read = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if read is None:
            raise ValueError(f"unsupported .npy version {version}")
        shape, _, dtype = read(buf)
    except (ValueError, TypeError, SyntaxError, EOFError) as exc:
        raise _bad(f"not a .npy array ({str(exc)[:100]})") from None
    except tokenize.TokenError:  # numpy re-tokenizes a header it cannot parse; a header cut short ends mid-token
        raise _bad("not a .npy array (its header is cut short)") from None
    except RecursionError:  # ast cannot build a header nested thousands deep (e.g. '-----...1')
        raise _bad("not a .npy array (its header is nested too deeply)") from None
    if dtype.hasobject:
        raise _bad("object arrays are refused (they would be unpickled)")
    if dtype.kind not in "iuf" or dtype.fields:
        raise _bad(f"the array must hold numbers, not {str(dtype)[:60]}")
    have = len(body) - buf.tell()
    # each dimension bounded before multiplying or printing: a header may declare -2 or a 4,000-digit number
    if len(shape) > MAX_NPY_DIMS or not all(0 <= d <= have for d in shape):
        raise _bad(f"the header declares an impossible shape (more than {MAX_NPY_DIMS} dimensions, or one "
                   f"negative or larger than the {have} bytes of data)")
    need = math.prod(shape) * dtype.itemsize
    if need != have:
        raise _bad(f"the header declares {need} bytes of data but the body carries {have}")
    return np.load(io.BytesIO(body), allow_pickle=False)


def parse_window(body: bytes, ctype: str) -> tuple[np.ndarray, np.ndarray | None]:
    if ctype == "application/json":
        return _from_json(body)
    if ctype in NPY_TYPES:
        return _from_npy(body), None
    raise HTTPException(415, "send application/json or a .npy body (application/octet-stream)")


@router.post("/v1/predict", dependencies=[Depends(refuse_cross_site)])
async def predict(request: Request):
    """One window: JSON ``{"frames": [[[...]]], "timestamps": [...]}`` or a ``.npy`` body of ``[T, H, W]`` °C."""
    svc = request.app.state.service
    if svc.recognizer is None:
        raise HTTPException(404, "no clip classifier is loaded in this service")
    frames, timestamps = parse_window(await read_body(request, svc.cfg.max_window_bytes), media_type(request))
    try:
        pred = await svc.predictions.run(lambda: svc.recognizer.predict(frames, timestamps), svc.cfg.timeout_s)
    except Busy:
        raise HTTPException(503, "too many predictions in progress; try again shortly",
                            headers={"Retry-After": "1"}) from None
    except TimeoutError:
        raise HTTPException(504, f"prediction took longer than {svc.cfg.timeout_s:g} s") from None
    svc.metrics.predictions.labels(pred.label).inc()
    return pred.to_dict()
