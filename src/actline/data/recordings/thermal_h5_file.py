"""One recording of a ThermalDataGen data set: a ``frames/<sensor_id>.h5`` file, read and written::

    frames      (N, H, W) float32 °C, gzip
    timestamps  (N,) int64 Unix ms
    frame_seqs  (N,) int64
    attributes  sensor_id, mac_address, frame_height, frame_width, min/max_timestamp, total_frames, ...

The reader checks shapes, types, storage and attributes before it reads any data (sizes within the
read limits, :mod:`actline.data.limits`; no links, external or virtual storage).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path
from typing import Iterator

import h5py
import numpy as np

from actline.core.atomic import atomic_path
from actline.core.errors import ActlineError
from actline.data.dataset import Recording
from actline.data.limits import ReadLimits, current_limits

REQUIRED_H5 = ("frames", "timestamps")
MAX_ATTRS, MAX_ATTR_BYTES = 256, 64 * 1024  # a recording's attributes are a dozen scalars


def read_recording_h5(path: Path, sensor_id: str | None = None, limits: ReadLimits | None = None) -> Recording:
    """Read one ``frames/<sensor_id>.h5`` file, validating shapes and values.

    Shapes, types, storage and attributes are checked before any data is read: frames x H x W within
    ``limits``, and only datasets stored in this file (no external storage, external or soft links,
    or virtual datasets, any of which would make the reader open another file).
    """
    limits = current_limits(limits)
    with opened_h5(path, limits) as (fh, frames_ds, ts_ds):
        seqs_ds = _dataset(fh, "frame_seqs", path, limits) if "frame_seqs" in fh else None
        if seqs_ds is not None and seqs_ds.shape != (frames_ds.shape[0],):
            raise ActlineError(path, f"'frame_seqs' has shape {seqs_ds.shape}, expected ({frames_ds.shape[0]},)")
        attrs = _attrs(fh, path)
        limits.check_deadline(path)
        frames, timestamps = frames_ds[()], ts_ds[()]
        seqs = seqs_ds[()] if seqs_ds is not None else None
    frames, ts = _checked_values(path, frames, timestamps)
    sid = sensor_id or str(attrs.get("sensor_id") or path.stem)
    meta = dict(attrs)
    if seqs is not None:
        meta["frame_seqs"] = seqs
    return Recording(id=sid, frames=frames, timestamps=ts, group=str(attrs.get("group") or location_of(sid)),
                     source=str(path), meta=meta)


@contextlib.contextmanager
def opened_h5(path: Path, limits: ReadLimits) -> Iterator[tuple[h5py.File, h5py.Dataset, h5py.Dataset]]:
    """The open file and its checked ``frames`` and ``timestamps`` datasets, nothing read yet; h5py's errors
    while reading inside are one line naming the file."""
    try:
        fh = h5py.File(path, "r")
    except FileNotFoundError:
        raise ActlineError(path, "file not found") from None
    except OSError as exc:
        raise ActlineError(path, f"not a readable HDF5 file (empty, truncated or corrupt): {exc}") from None
    with fh:
        missing = [k for k in REQUIRED_H5 if k not in fh]
        if missing:
            raise ActlineError(path, f"missing dataset(s) {missing}; found {sorted(fh.keys())}")
        frames = _dataset(fh, "frames", path, limits)
        if len(frames.shape) != 3:
            raise ActlineError(path, f"'frames' must have shape (N, H, W), got {frames.shape}")
        limits.check_values(path, frames.shape)
        ts = _dataset(fh, "timestamps", path, limits)
        if ts.shape != (frames.shape[0],):
            raise ActlineError(path, f"'timestamps' has shape {ts.shape}, expected ({frames.shape[0]},)")
        try:
            yield fh, frames, ts
        except (OSError, ValueError, TypeError) as exc:  # h5py's errors while reading data
            raise ActlineError(path, f"cannot read data (truncated or corrupt): {exc}") from None


def check_timestamps(path: Path, ts: np.ndarray) -> None:
    """Timestamps in seconds: finite, and never going back."""
    if not np.isfinite(ts).all():
        raise ActlineError(path, "'timestamps' contains NaN or inf")
    back = np.flatnonzero(np.diff(ts) < 0)
    if back.size:
        raise ActlineError(path, f"'timestamps' go backwards at frame {int(back[0]) + 1} ({back.size} times)")


def _checked_values(path: Path, frames: np.ndarray, timestamps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frames as float32 °C, timestamps in s), refusing no frames, NaN or inf, and time going backwards."""
    if frames.shape[0] == 0:
        raise ActlineError(path, "'frames' is empty (0 frames)")
    frames = frames.astype(np.float32, copy=False)
    finite = np.isfinite(frames)
    if not finite.all():
        bad = int((~finite.reshape(len(frames), -1)).any(axis=1).argmax())
        raise ActlineError(path, f"'frames' contains NaN or inf ({int((~finite).sum())} values, first in frame {bad})")
    ts = timestamps.astype(np.float64) / 1000.0  # Unix milliseconds -> seconds
    check_timestamps(path, ts)
    return frames, ts


def _dataset(fh: h5py.File, name: str, path: Path, limits: ReadLimits) -> h5py.Dataset:
    """``fh[name]`` if it is a numeric dataset stored in this file, else a one-line error."""
    link = fh.get(name, getlink=True)
    if not isinstance(link, h5py.HardLink):
        raise ActlineError(path, f"'{name}' is a {type(link).__name__}: links are not followed")
    ds = fh[name]
    if not isinstance(ds, h5py.Dataset):
        raise ActlineError(path, f"'{name}' is not a dataset")
    if ds.is_virtual:
        raise ActlineError(path, f"'{name}' is a virtual dataset (its data lives in other files): refused")
    if ds.external:
        raise ActlineError(path, f"'{name}' keeps its data in external files: refused")
    if ds.dtype.kind not in "iuf" or ds.dtype.itemsize > 8:
        raise ActlineError(path, f"'{name}' must be numeric, got dtype {ds.dtype}")
    if ds.chunks:  # HDF5 decompresses a whole chunk at a time, and a chunk may exceed the shape
        limits.check_values(f"{path}: '{name}' chunk", ds.chunks)
    return ds


def _attrs(fh: h5py.File, path: Path) -> dict:
    names = list(fh.attrs)
    if len(names) > MAX_ATTRS:
        raise ActlineError(path, f"{len(names)} attributes, more than the limit of {MAX_ATTRS}")
    for k in names:
        size = fh.attrs.get_id(k).get_storage_size()
        if size > MAX_ATTR_BYTES:
            raise ActlineError(path, f"attribute {k!r} holds {size:,} bytes, more than the limit of {MAX_ATTR_BYTES:,}")
    try:
        return {k: _attr(fh.attrs[k]) for k in names}
    except (OSError, ValueError, TypeError) as exc:
        raise ActlineError(path, f"cannot read attributes (truncated or corrupt): {exc}") from None


def location_of(sensor_id: str) -> str:
    """A recording's location (room): its sensor id up to the first underscore (``SL14_R9`` -> ``SL14``)."""
    return sensor_id.split("_", 1)[0]


def _attr(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.generic):
        return v.item()
    return v


def write_recording_h5(path: Path, frames: np.ndarray, ts_ms: np.ndarray, sensor_id: str, mac: str = "",
                       created_at: str | None = None, extra_attrs: dict | None = None) -> Path:
    """One recording in the ThermalDataGen layout (gzip frames, int64 ms timestamps), atomically;
    ``extra_attrs`` (scalars or strings) are added to the file's attributes."""
    n, h, w = frames.shape
    with atomic_path(path, suffix=".h5") as tmp, h5py.File(tmp, "w") as fh:
        fh.create_dataset("frames", data=frames, compression="gzip", compression_opts=4, chunks=(min(64, n), h, w))
        fh.create_dataset("timestamps", data=np.asarray(ts_ms, dtype=np.int64))
        fh.create_dataset("frame_seqs", data=np.arange(n, dtype=np.int64))
        attrs = {"sensor_id": sensor_id, "mac_address": mac, "frame_height": h, "frame_width": w,
                 "min_timestamp": int(np.min(ts_ms)), "max_timestamp": int(np.max(ts_ms)), "total_frames": n,
                 "created_at": created_at or dt.datetime.now(dt.timezone.utc).isoformat(), "compression": "gzip",
                 "compression_level": 4, "corrupted_count": int((frames <= -100).any(axis=(1, 2)).sum()),
                 **(extra_attrs or {})}
        for k, v in attrs.items():
            fh.attrs[k] = v
    return path
