"""One entry point for every data set format, ``load_dataset(path)``, and one for a single thermal recording
file, ``load_recording(path)``; ``find_inputs`` expands directories to the files a model reads."""

from __future__ import annotations

from pathlib import Path

from actline.core.errors import ActlineError
from actline.data.dataset import ClipDataset, Recording


def detect_format(root: str | Path) -> str:
    from actline.data.nagoya import is_nagoya_dir
    from actline.data.thermal_h5 import is_thermal_h5_dir

    root = Path(root)
    if not root.exists():
        raise ActlineError(root, "data directory not found")
    if not root.is_dir():
        raise ActlineError(root, "not a directory (expected a data set directory)")
    if is_thermal_h5_dir(root):
        return "thermal-h5"
    if is_nagoya_dir(root):
        return "nagoya-csv"
    raise ActlineError(root, "unrecognised data set layout: expected frames/ + annotations/ (ThermalDataGen) "
                       "or <day>/raw/ + annotation/ (Nagoya FIR 16x16)")


def load_dataset(root: str | Path, format: str | None = None, **kwargs) -> ClipDataset:
    """The data set at ``root`` (ThermalDataGen or Nagoya layout, detected unless ``format`` is given)."""
    fmt = format or detect_format(root)
    if fmt == "thermal-h5":
        from actline.data.thermal_h5 import read_thermal_dataset

        return read_thermal_dataset(root, **kwargs)
    if fmt == "nagoya-csv":
        from actline.data.nagoya import read_nagoya

        return read_nagoya(root, **kwargs)
    raise ActlineError(root, f"unknown data format {fmt!r} (known: thermal-h5, nagoya-csv)")


THERMAL_SUFFIXES = (".h5", ".hdf5", ".csv", ".gz")  # ThermalDataGen HDF5, Nagoya CSV (.csv or .csv.gz)


def is_thermal_input(path: str | Path) -> bool:
    return Path(path).suffix.lower() in THERMAL_SUFFIXES


def load_recording(path: str | Path) -> Recording:
    """One thermal recording from one file: a ThermalDataGen ``.h5``, an ``.npz`` (frames, timestamps) or a
    Nagoya ``.csv``/``.csv.gz`` (its start-up frames dropped, as :func:`~actline.data.nagoya.read_nagoya` does)."""
    path = Path(path)
    if path.suffix.lower() in (".h5", ".hdf5"):
        from actline.data.thermal_h5 import read_recording_h5

        return read_recording_h5(path)
    if path.suffix.lower() == ".npz":
        from actline.data.recordings.recording_npz import read_recording_npz

        return read_recording_npz(path)
    from actline.data.nagoya import UNSTABLE_FRAMES, read_nagoya_csv

    frames, ts, _ = read_nagoya_csv(path)
    keep = slice(UNSTABLE_FRAMES, None)
    return Recording(id=path.name.split(".")[0], frames=frames[keep], timestamps=ts[keep], group="", source=str(path))


def find_inputs(paths: list[Path], kind: str = "rgb") -> list[Path]:
    """Files as given; directories expanded (recursively, sorted) to the videos (``kind="rgb"``) or
    thermal recordings (``"thermal"``) inside them."""
    from actline.data.video import VIDEO_SUFFIXES

    suffixes = VIDEO_SUFFIXES if kind == "rgb" else THERMAL_SUFFIXES
    found = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in suffixes)
        elif p.is_file():
            found.append(p)
        else:
            raise ActlineError(p, "file or directory not found")
    if not found:
        raise ActlineError(paths[0] if paths else None, "no videos or recordings found")
    return found
