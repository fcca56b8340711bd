"""A sensor's stream state on disk: ``<dir>/<sensor>/state.json`` + ``state.safetensors``.

Versioned (``format``/``version`` in the JSON), written atomically (a temporary directory renamed
into place, :func:`~actline.core.atomic.atomic_dir`), never pickled. It holds the empty room and
its foreground mask (so a restart does not forget a person lying still), the frame buffer, the
smoothed probabilities and the state with its start and alert flag. On restore, the background is
always taken; the rest only when the model has the same classes and window (else the stream starts
fresh, saying why). Frames that arrive after a gap longer than ``max_gap_s`` reset the buffer as
usual, so a state saved hours ago never mixes with new frames.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from actline.core.errors import ActlineError
from actline.data.background import BackgroundModel

FORMAT, VERSION = "actline-stream-state", 1
MAX_STATE_BYTES = 64 << 20  # a 64-frame 40x60 buffer and background are ~0.7 MB

def sensor_dirname(sensor: str) -> str:
    """A file name for a sensor id from the network: itself when harmless, else a hash."""
    from actline.core.hashing import safe_file_name

    return safe_file_name(sensor)


def _meta(sr) -> dict:
    spec = sr.r.spec
    meta = {"format": FORMAT, "version": VERSION, "sensor": sr.sensor, "model": sr.model, "classes": sr.r.classes,
            "window": {"length": spec.length, "mode": spec.mode, "fps": spec.fps},
            "n_seen": sr.n_seen, "since_run": sr.since_run, "last_run_t": sr.last_run_t, "runs": sr.runs,
            "smoothed": None if sr.smoothed is None else [float(v) for v in sr.smoothed],
            "state": sr.state, "state_since": sr.state_since, "alerted": sr.alerted,
            "alert_t": sr.alert_t}
    if sr.ring is not None:
        meta["ring"] = {"count": sr.ring.count, "head": sr.ring.head}
    return meta


def save_state(root: str | Path, sr) -> Path:
    from safetensors.numpy import save_file

    from actline.core.atomic import atomic_dir, write_json

    meta, arrays = _meta(sr), {}
    if sr.ring is not None:
        arrays.update(frames=sr.ring.frames, times=sr.ring.times)
    if sr.bg is not None:
        bg_meta, bg_arrays = sr.bg.state()
        meta["background"] = bg_meta
        arrays.update({f"bg.{k}": np.ascontiguousarray(v) for k, v in bg_arrays.items()})
    target = Path(root) / sensor_dirname(sr.sensor or "sensor")
    with atomic_dir(target, overwrite=True) as tmp:
        save_file(arrays, str(tmp / "state.safetensors"), metadata={"format": FORMAT})
        write_json(tmp / "state.json", meta)
    return target


def load_state(root: str | Path, sr) -> str | None:
    """Restore ``sr`` from its saved state if there is one: None, or a line saying what was restored."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    from actline.core.atomic import recover_dir

    d = recover_dir(Path(root) / sensor_dirname(sr.sensor or "sensor"))
    if not (d / "state.json").is_file():
        return None
    for name in ("state.json", "state.safetensors"):
        if not (d / name).is_file() or (d / name).stat().st_size > MAX_STATE_BYTES:
            raise ActlineError(d / name, f"missing or larger than {MAX_STATE_BYTES} bytes")
    try:
        meta = json.loads((d / "state.json").read_text(encoding="utf-8"))
        arrays = load_file(str(d / "state.safetensors"))
    except (json.JSONDecodeError, UnicodeDecodeError, SafetensorError, OSError) as exc:
        raise ActlineError(d, f"unreadable stream state ({type(exc).__name__})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise ActlineError(d / "state.json", f"not a stream state of version {VERSION}")
    if "background" in meta:
        sr.bg = BackgroundModel.from_state(meta["background"], {k[3:]: v for k, v in arrays.items()
                                                                if k.startswith("bg.")}, str(d))
    spec = sr.r.spec
    same = meta.get("classes") == sr.r.classes and meta.get("window") == {
        "length": spec.length, "mode": spec.mode, "fps": spec.fps}
    if not same or "frames" not in arrays:
        return "background restored (the model's classes or window differ: the state starts fresh)"
    _restore_stream(sr, meta, arrays, d)
    return f"restored at t={sr.last_t} (state {sr.state!r})"


def _restore_stream(sr, meta: dict, arrays: dict, where: Path) -> None:
    from actline.infer.streaming import _Ring

    frames, times = arrays["frames"], arrays["times"]
    if frames.ndim != 3 or len(frames) != sr.span or times.shape != (sr.span,):
        raise ActlineError(where, f"frame buffer of shape {frames.shape} does not fit this model")
    try:
        ring = _Ring(sr.span, frames.shape[1:])
        ring.frames[:], ring.times[:] = frames, times
        ring.count, ring.head = int(meta["ring"]["count"]), int(meta["ring"]["head"])
        sr.ring = ring
        sr.n_seen, sr.since_run, sr.runs = int(meta["n_seen"]), int(meta["since_run"]), int(meta["runs"])
        sr.last_run_t, sr.state, sr.state_since = meta["last_run_t"], meta["state"], meta["state_since"]
        sr.alerted = bool(meta["alerted"])
        alert_t = meta.get("alert_t", sr.state_since)  # states saved before "cleared" events: from the state's start
        sr.alert_t = None if alert_t is None else float(alert_t)
        sr.smoothed = None if meta["smoothed"] is None else np.asarray(meta["smoothed"], dtype=np.float64)
    except (KeyError, TypeError, ValueError) as exc:
        raise ActlineError(where, f"incomplete stream state ({type(exc).__name__}: {exc})") from None
    if sr.state is not None and sr.state not in sr.r.classes:
        raise ActlineError(where, f"state {sr.state!r} is not a class of this model")
