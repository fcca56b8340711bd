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

from actline.core.errors import ActlineError

FORMAT, VERSION = "actline-stream-state", 1
MAX_STATE_BYTES = 64 << 20  # a 64-frame 40x60 buffer and background are ~0.7 MB

def sensor_dirname(sensor: str) -> str:
    """A file name for a sensor id from the network: itself when harmless, else a hash."""
    from actline.core.hashing import safe_file_name

    return safe_file_name(sensor)


def save_state(root: str | Path, sr) -> Path:
    from safetensors.numpy import save_file

    from actline.core.atomic import atomic_dir, write_json

    state, arrays = sr.state_dict()
    meta = {"format": FORMAT, "version": VERSION, **state}
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
    return sr.load_state_dict(meta, arrays, d)
