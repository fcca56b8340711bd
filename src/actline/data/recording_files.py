"""A folder of recordings, one file each, as users bring them: ThermalDataGen HDF5 (``.h5``, ``.hdf5``),
NPZ (``frames`` [N, H, W] float32 °C and ``timestamps`` [N] float64 seconds on the sensor's clock) and
Nagoya-style CSV (``.csv``, ``.csv.gz``: line 1 a date, line 2 ``Time (sec),PTAT,P000..P255``, then one
16x16 frame a row; every row is kept).

A recording is named after its file, up to the first dot (``SL14_R1.csv.gz`` -> ``SL14_R1``), and the
name must be ``<location>_<rest>``. Every reader checks sizes against the read limits before it
allocates (:mod:`actline.data.limits`), and refuses bad input in one line naming the file.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from actline.core.errors import ActlineError
from actline.data.dataset import Recording
from actline.data.labelled_store import check_recording_name
from actline.data.limits import ReadLimits, current_limits
from actline.data.thermal_h5_file import location_of, read_recording_h5

RECORDING_SUFFIXES = (".h5", ".hdf5", ".npz", ".csv", ".csv.gz")
NPZ_KEYS = ("frames", "timestamps")


def recording_name(path: Path) -> str:
    return Path(path).name.split(".", 1)[0]


def is_recording_file(path: Path) -> bool:
    return path.is_file() and not path.name.startswith(".") and path.name.lower().endswith(RECORDING_SUFFIXES)


def read_recording_file(path: str | Path, limits: ReadLimits | None = None) -> Recording:
    """One recording from one file (HDF5, NPZ or Nagoya-style CSV), named after the file."""
    path = Path(path)
    name = check_recording_name(recording_name(path), path)
    low = path.name.lower()
    if low.endswith((".h5", ".hdf5")):
        rec = read_recording_h5(path, name, limits=limits)
        rec.meta.pop("frame_seqs", None)
        return rec
    if low.endswith(".npz"):
        frames, ts = read_npz_recording(path, limits)
    elif low.endswith((".csv", ".csv.gz")):
        from actline.data.nagoya import read_nagoya_csv

        frames, ts, _ = read_nagoya_csv(path, limits)
    else:
        raise ActlineError(path, f"not a recording file (expected {', '.join(RECORDING_SUFFIXES)})")
    return Recording(id=name, frames=frames, timestamps=ts, group=location_of(name), source=str(path))


def read_frames_folder(folder: str | Path, limits: ReadLimits | None = None) -> dict[str, Recording]:
    """Every recording file directly inside ``folder`` (other files are ignored), by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ActlineError(folder, "frames folder not found")
    recs: dict[str, Recording] = {}
    for path in sorted(p for p in folder.iterdir() if is_recording_file(p)):
        rec = read_recording_file(path, limits)
        if rec.id in recs:
            raise ActlineError(path, f"a second file for recording {rec.id!r} (also {recs[rec.id].source})")
        recs[rec.id] = rec
    if not recs:
        raise ActlineError(folder, f"no recordings found (expected files ending in {', '.join(RECORDING_SUFFIXES)})")
    return recs


# ------------------------------------------------------------------ NPZ
def read_npz_recording(path: Path, limits: ReadLimits | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(frames [N, H, W] float32 °C, timestamps [N] float64 s) of an NPZ file. Each array's header is read
    first and its shape checked against the limits; nothing is unpickled."""
    limits = current_limits(limits)
    try:
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise ActlineError(path, "file not found") from None
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ActlineError(path, f"not a readable NPZ file (empty, truncated or not a zip): {exc}") from None
    with zf:
        names = set(zf.namelist())
        missing = [k for k in NPZ_KEYS if f"{k}.npy" not in names]
        if missing:
            found = sorted(n[:-4] for n in names if n.endswith(".npy"))
            raise ActlineError(path, f"missing array(s) {missing}; found {found}")
        frames = _npy(zf, path, "frames", limits, ndim=3)
        ts = _npy(zf, path, "timestamps", limits, ndim=1)
    if len(frames) == 0:
        raise ActlineError(path, "'frames' is empty (0 frames)")
    if ts.shape != (len(frames),):
        raise ActlineError(path, f"'timestamps' has shape {ts.shape}, expected ({len(frames)},)")
    frames = frames.astype(np.float32, copy=False)
    ts = ts.astype(np.float64, copy=False)
    if not np.isfinite(frames).all():
        raise ActlineError(path, "'frames' contains NaN or inf (or values beyond float32)")
    if not np.isfinite(ts).all():
        raise ActlineError(path, "'timestamps' contains NaN or inf")
    back = np.flatnonzero(np.diff(ts) < 0)
    if back.size:
        raise ActlineError(path, f"'timestamps' go backwards at frame {int(back[0]) + 1} ({back.size} times)")
    return frames, ts


def _npy(zf: zipfile.ZipFile, path: Path, key: str, limits: ReadLimits, ndim: int) -> np.ndarray:
    info = zf.getinfo(f"{key}.npy")
    try:
        with zf.open(info) as fh:
            version = np.lib.format.read_magic(fh)
            if version not in ((1, 0), (2, 0)):
                raise ValueError(f"unsupported .npy version {version}")
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read_header(fh, max_header_size=10_000)
            if len(shape) != ndim:
                raise ActlineError(path, f"'{key}' must have {ndim} dimension(s), got shape {shape}")
            if dtype.kind not in "iuf" or dtype.itemsize > 8:
                raise ActlineError(path, f"'{key}' must be numeric, got dtype {dtype}")
            limits.check_values(f"{path}: '{key}'", shape if ndim == 3 else (*shape, 1, 1))
            count = int(np.prod(shape))
            if info.file_size > count * dtype.itemsize + 65_536:
                raise ActlineError(path, f"'{key}' holds more bytes than its shape {shape} declares")
            data = np.frombuffer(fh.read(count * dtype.itemsize), dtype=dtype)
    except ActlineError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, RuntimeError) as exc:
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
