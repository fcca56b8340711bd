"""One thermal recording as NumPy's ``.npz``: ``frames`` [N, H, W] float32 °C and ``timestamps`` [N] float64
seconds of the sensor's clock.

The file is a zip of ``.npy`` members (NumPy's format description, numpy.org/doc/stable/reference/
generated/numpy.lib.format.html): each member's header gives its dtype and shape, so both are read and
checked against the read limits before any data is; object arrays (which would need unpickling) are
refused.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from actline.core.errors import ActlineError
from actline.data.dataset import Recording
from actline.data.limits import ReadLimits, current_limits
from actline.data.thermal_h5_file import location_of

MEMBERS = ("frames", "timestamps")
# what a damaged zip or .npy member raises from zipfile, zlib and NumPy's header parser
BROKEN = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, SyntaxError,
          RecursionError)


def _header(zf: zipfile.ZipFile, name: str, path: Path) -> tuple[tuple[int, ...], np.dtype]:
    try:
        with zf.open(f"{name}.npy") as fh:
            version = np.lib.format.read_magic(fh)
            if version not in ((1, 0), (2, 0)):  # 3.0 only adds UTF-8 field names: never a recording's
                raise ValueError(f"npy version {version}")
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(fh)
    except KeyError:
        raise ActlineError(path, f"no '{name}' array (an NPZ recording holds {', '.join(MEMBERS)})") from None
    except BROKEN as exc:
        raise ActlineError(path, f"'{name}' is not a readable array ({type(exc).__name__}: {exc})") from None
    if dtype.hasobject or dtype.kind not in "iuf":
        raise ActlineError(path, f"'{name}' must be numeric, got dtype {dtype}")
    return shape, dtype


def read_recording_npz(path: str | Path, limits: ReadLimits | None = None) -> Recording:
    """Read one ``.npz`` recording, its shapes and types checked before its data."""
    path, limits = Path(path), current_limits(limits)
    try:
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise ActlineError(path, "file not found") from None
    except BROKEN as exc:
        raise ActlineError(path, f"not a readable NPZ file ({type(exc).__name__}: {exc})") from None
    with zf:
        shape, _ = _header(zf, "frames", path)
        if len(shape) != 3 or 0 in shape:
            raise ActlineError(path, f"'frames' must have shape (N, H, W) with N, H, W > 0, got {shape}")
        limits.check_values(path, shape)
        ts_shape, _ = _header(zf, "timestamps", path)
        if ts_shape != shape[:1]:
            raise ActlineError(path, f"'timestamps' has shape {ts_shape}, expected ({shape[0]},)")
        try:
            with zf.open("frames.npy") as fh:
                frames = np.lib.format.read_array(fh, allow_pickle=False)
            with zf.open("timestamps.npy") as fh:
                ts = np.lib.format.read_array(fh, allow_pickle=False)
        except BROKEN as exc:
            raise ActlineError(path, f"cannot read data (truncated or corrupt): {type(exc).__name__}: {exc}") from None
    frames = frames.astype(np.float32, copy=False)
    if not np.isfinite(frames).all():
        raise ActlineError(path, "'frames' contains NaN or inf")
    ts = ts.astype(np.float64)
    if not np.isfinite(ts).all() or (np.diff(ts) < 0).any():
        raise ActlineError(path, "'timestamps' must be finite seconds that never go back")
    return Recording(id=path.stem, frames=frames, timestamps=ts, group=location_of(path.stem), source=str(path))
