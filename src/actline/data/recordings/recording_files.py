"""A folder of recordings, one file each, as users bring them: ThermalDataGen HDF5 (``.h5``, ``.hdf5``),
NPZ (``frames`` [N, H, W] float32 °C and ``timestamps`` [N] float64 seconds on the sensor's clock) and
Nagoya-style CSV (``.csv``, ``.csv.gz``: line 1 a date, line 2 ``Time (sec),PTAT,P000..P255``, then one
16x16 frame a row; every row is kept).

A recording is named after its file, up to the first dot (``SL14_R1.csv.gz`` -> ``SL14_R1``), and the
name must be ``<location>_<rest>``. Every reader checks sizes against the read limits before it
allocates (:mod:`actline.data.limits`), and refuses bad input in one line naming the file.
"""

from __future__ import annotations

from pathlib import Path

from actline.core.errors import ActlineError
from actline.data.dataset import Recording
from actline.data.labels.labelled_store import check_recording_name
from actline.data.limits import ReadLimits
from actline.data.recordings.recording_npz import read_npz_arrays
from actline.data.recordings.thermal_h5_file import location_of, read_recording_h5

RECORDING_SUFFIXES = (".h5", ".hdf5", ".npz", ".csv", ".csv.gz")


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
        frames, ts = read_npz_arrays(path, limits)
    elif low.endswith((".csv", ".csv.gz")):
        from actline.data.nagoya import read_nagoya_csv

        frames, ts, _ = read_nagoya_csv(path, limits)
    else:
        raise ActlineError(path, f"not a recording file (expected {', '.join(RECORDING_SUFFIXES)})")
    return Recording(id=name, frames=frames, timestamps=ts, group=location_of(name), source=str(path))


def recordings_folder(folder: str | Path) -> Path:
    """Where the recordings of ``folder`` are: ``folder`` itself, or its ``frames/`` when ``folder`` holds no
    recording file of its own but that subfolder (a data set, or the folder ``actline stream --record`` wrote)."""
    folder = Path(folder)
    sub = folder / "frames"
    if sub.is_dir() and folder.is_dir() and not any(is_recording_file(p) for p in folder.iterdir()):
        return sub
    return folder


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
