"""One entry point for every data set format: ``load_dataset(path)``."""

from __future__ import annotations

from pathlib import Path

from actline.core.errors import ActlineError
from actline.data.dataset import ClipDataset


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
    fmt = format or detect_format(root)
    if fmt == "thermal-h5":
        from actline.data.thermal_h5 import read_thermal_dataset

        return read_thermal_dataset(root, **kwargs)
    if fmt == "nagoya-csv":
        from actline.data.nagoya import read_nagoya

        return read_nagoya(root, **kwargs)
    raise ActlineError(root, f"unknown data format {fmt!r} (known: thermal-h5, nagoya-csv)")
