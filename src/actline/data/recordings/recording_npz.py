"""One thermal recording as NumPy's ``.npz``: ``frames`` [N, H, W] float32 °C and ``timestamps`` [N] float64
seconds of the sensor's clock.

The file is a zip of ``.npy`` members (NumPy's format description, numpy.org/doc/stable/reference/
generated/numpy.lib.format.html): each member's header gives its dtype and shape, so both are read and
checked against the read limits before any data is; object arrays (which would need unpickling) are
refused, and nothing is ever unpickled.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from actline.core.errors import ActlineError
from actline.data.dataset import Recording
from actline.data.limits import ReadLimits, current_limits
from actline.data.recordings.thermal_h5_file import check_timestamps, location_of

NPZ_KEYS = ("frames", "timestamps")
# what a damaged zip or .npy member raises from zipfile, zlib and NumPy's header parser
BROKEN = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, SyntaxError,
          RecursionError)


def read_recording_npz(path: str | Path, limits: ReadLimits | None = None) -> Recording:
    """One ``.npz`` recording, named after its file, its shapes and types checked before its data."""
    path = Path(path)
    frames, ts = read_npz_arrays(path, limits)
    return Recording(id=path.stem, frames=frames, timestamps=ts, group=location_of(path.stem), source=str(path))


def read_npz_arrays(path: str | Path, limits: ReadLimits | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(frames [N, H, W] float32 °C, timestamps [N] float64 s) of an NPZ file. Each array's header is read
    first and its shape checked against the limits; nothing is unpickled."""
    path, limits = Path(path), current_limits(limits)
    try:
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise ActlineError(path, "file not found") from None
    except BROKEN as exc:
        raise ActlineError(path, f"not a readable NPZ file (empty, truncated or not a zip): {exc}") from None
    with zf:
        names = set(zf.namelist())
        missing = [k for k in NPZ_KEYS if f"{k}.npy" not in names]
        if missing:
            found = sorted(n[:-4] for n in names if n.endswith(".npy"))
            raise ActlineError(path, f"missing array(s) {missing}; found {found} (an NPZ recording holds "
                                     f"{', '.join(NPZ_KEYS)})")
        frames = _npy(zf, path, "frames", limits, ndim=3)
        ts = _npy(zf, path, "timestamps", limits, ndim=1)
    if len(frames) == 0 or 0 in frames.shape:
        raise ActlineError(path, f"'frames' must have shape (N, H, W) with N, H, W > 0, got {frames.shape}")
    if ts.shape != (len(frames),):
        raise ActlineError(path, f"'timestamps' has shape {ts.shape}, expected ({len(frames)},)")
    frames = frames.astype(np.float32, copy=False)
    ts = ts.astype(np.float64, copy=False)
    if not np.isfinite(frames).all():
        raise ActlineError(path, "'frames' contains NaN or inf (or values beyond float32)")
    check_timestamps(path, ts)
    return frames, ts


def _npy(zf: zipfile.ZipFile, path: Path, key: str, limits: ReadLimits, ndim: int) -> np.ndarray:
    info = zf.getinfo(f"{key}.npy")
    try:
        with zf.open(info) as fh:
            version = np.lib.format.read_magic(fh)
            if version not in ((1, 0), (2, 0)):  # 3.0 only adds UTF-8 field names: never a recording's
                raise ValueError(f"unsupported .npy version {version}")
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read_header(fh, max_header_size=10_000)
            if dtype.hasobject or dtype.kind not in "iuf" or dtype.itemsize > 8:
                raise ActlineError(path, f"'{key}' must be numeric, got dtype {dtype}")
            if len(shape) != ndim:
                raise ActlineError(path, f"'{key}' must have {ndim} dimension(s), got shape {shape}")
            limits.check_values(f"{path}: '{key}'", shape if ndim == 3 else (*shape, 1, 1))
            count = int(np.prod(shape))
            if info.file_size > count * dtype.itemsize + 65_536:
                raise ActlineError(path, f"'{key}' holds more bytes than its shape {shape} declares")
            data = np.frombuffer(fh.read(count * dtype.itemsize), dtype=dtype)
    except ActlineError:
        raise
    except BROKEN as exc:
        raise ActlineError(path, f"'{key}' is not a readable array (truncated or corrupt): {exc}") from None
    if data.size != count:
        raise ActlineError(path, f"'{key}' is truncated: {data.size} of {count} values")
    return data.reshape(shape, order="F" if fortran else "C")


def write_npz_recording(path: Path, frames: np.ndarray, timestamps_s: np.ndarray, exclusive: bool = False) -> Path:
    """An NPZ recording (frames float32 °C, timestamps float64 s), written atomically; ``exclusive``: never
    replacing an existing file (``FileExistsError``)."""
    from actline.core.atomic import atomic_path

    with atomic_path(path, suffix=".npz", exclusive=exclusive) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, frames=np.asarray(frames, np.float32), timestamps=np.asarray(timestamps_s, np.float64))
    return Path(path)
