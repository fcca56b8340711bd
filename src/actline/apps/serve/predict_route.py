"""``POST /v1/predict``: one window in, one prediction out.

Every field is checked before the model sees it (400 with one line). A request may name its recording
(sensor): its empty room is then estimated once and kept for that recording's next windows, in a
cache bounded in count (``room_cache``) whose entries expire (``room_ttl_s``). Predictions run in a pool of
``predict_workers`` threads; at most ``predict_backlog`` more may wait. A request that finds the
pool full gets 503 with ``Retry-After``; one that waits longer than ``timeout_s`` gets 504, and
its prediction keeps its place in the pool until it really ends, so timed-out work cannot pile up.
"""

from __future__ import annotations

import asyncio
import io
import json
import math
import re
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
FIELDS = ("frames", "timestamps", "recording")
RECORDING_ID = re.compile(r"[A-Za-z0-9_.:@-]{1,128}")  # a sensor or recording id, as MQTT topics and file names carry
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


def recording_id(value) -> str | None:
    """The optional recording (sensor) id whose empty room is kept between requests, checked."""
    if value is None:
        return None
    if not isinstance(value, str) or not RECORDING_ID.fullmatch(value):
        raise _bad("'recording' must be 1-128 characters of letters, digits and _ . : @ -")
    return value


def _from_json(body: bytes) -> tuple[np.ndarray, np.ndarray | None, str | None]:
    try:
        obj = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise _bad(f"not JSON ({type(exc).__name__}: {str(exc)[:100]})") from None
    if not isinstance(obj, dict) or "frames" not in obj:
        raise _bad('expected {"frames": [[[...]]], "timestamps": [...] (optional), "recording": "id" (optional)}')
    unknown = sorted(set(obj) - set(FIELDS))
    if unknown:
        raise _bad(f"unknown field(s) {unknown[:5]} (expected {', '.join(FIELDS)})")
    recording = recording_id(obj.get("recording"))
    frames = _numbers(obj["frames"], "frames")
    if obj.get("timestamps") is None:
        return frames, None, recording
    ts = _numbers(obj["timestamps"], "timestamps")
    if ts.ndim != 1:
        raise _bad("'timestamps' must be a list of seconds, one per frame")
    return frames, ts, recording


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


def parse_window(body: bytes, ctype: str, recording: str | None = None) -> tuple[np.ndarray, np.ndarray | None, str | None]:
    """(frames, timestamps or None, recording id or None); ``recording``: the query parameter (a ``.npy`` body
    has no field for it; in JSON the body's field wins)."""
    if ctype == "application/json":
        frames, ts, in_body = _from_json(body)
        return frames, ts, in_body or recording_id(recording)
    if ctype in NPY_TYPES:
        return _from_npy(body), None, recording_id(recording)
    raise HTTPException(415, "send application/json or a .npy body (application/octet-stream)")


@router.post("/v1/predict", dependencies=[Depends(refuse_cross_site)])
async def predict(request: Request):
    """One window: JSON ``{"frames": [[[...]]], "timestamps": [...], "recording": "id"}`` or a ``.npy`` body of
    ``[T, H, W]`` °C (``?recording=id``). With a recording id, that recording's empty room is estimated on its
    first window and kept (:class:`~actline.infer.room_cache.RoomCache`) for the next."""
    svc = request.app.state.service
    if svc.recognizer is None:
        raise HTTPException(404, "no clip classifier is loaded in this service")
    recording = request.query_params.get("recording")
    frames, timestamps, recording = parse_window(await read_body(request, svc.cfg.max_window_bytes),
                                                 media_type(request), recording)
    try:
        pred, kept, room = await svc.predictions.run(lambda: _predict(svc, frames, timestamps, recording),
                                                     svc.cfg.timeout_s)
    except Busy:
        raise HTTPException(503, "too many predictions in progress; try again shortly",
                            headers={"Retry-After": "1"}) from None
    except TimeoutError:
        raise HTTPException(504, f"prediction took longer than {svc.cfg.timeout_s:g} s") from None
    svc.metrics.predictions.labels(pred.label).inc()
    out = pred.to_dict()
    if recording is not None:
        out.update(recording=recording, room="kept" if kept else "estimated" if kept is not None else "unused")
    if room is not None:  # a model with a room gate: whether this room is new to it, and what to do then
        out.update(new_room=room["new"], room_similarity=room["similarity"],
                   **({"advice": room["advice"]} if room["new"] else {}))
    return out


def _predict(svc, frames, timestamps, recording: str | None):
    """(prediction, whether the recording's room was kept already (None when none is read or no id is given),
    the room report of a gated model (:meth:`Recognizer.room_report`, else None))."""
    r = svc.recognizer
    if not r.needs_room:
        return r.predict(frames, timestamps), None, None
    if recording is None:
        room, kept = r.estimate_room(frames), None
    else:
        room, kept = svc.rooms.get_or_estimate(recording, lambda: r.estimate_room(frames))
    return r.predict(frames, timestamps, room=room), kept, r.room_report(room)
