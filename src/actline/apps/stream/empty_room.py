"""``--empty-room``: each sensor's background seeded from a recording of its own room, empty.

Each value is one of:

- ``SENSOR=FILE``: that sensor's empty room;
- a folder: ``<sensor>.h5`` / ``.hdf5`` / ``.npz`` files, or a folder ``<sensor>/`` of such files (all of
  them, in name order), one sensor each;
- a file: the empty room of every sensor that has none of its own (for ``--replay``, its sensor).

Every file is read at start and checked against the model's frame size: a file of another size is
refused in one line naming it. Only the seeded background (a few ``H x W`` arrays per sensor) is
kept, not the frames.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from actline.core.errors import ActlineError
from actline.data.background import BackgroundConfig, BackgroundModel

SUFFIXES = (".h5", ".hdf5", ".npz")


def _frames(paths: list[Path], frame_shape: tuple[int, int] | None) -> np.ndarray:
    from actline.data.formats import load_recording

    out = []
    for p in paths:
        x = load_recording(p).frames
        want = frame_shape or (out[0].shape[1:] if out else x.shape[1:])
        if tuple(x.shape[1:]) != tuple(want):
            whose = "the model takes" if frame_shape else f"{paths[0].name} has"
            raise ActlineError(p, f"empty-room frames are {x.shape[1]}x{x.shape[2]}, but {whose} {want[0]}x{want[1]}")
        out.append(x)
    return np.concatenate(out)


def _folder(d: Path) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {}
    for p in sorted(d.iterdir()):
        if p.name.startswith("."):
            continue
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in SUFFIXES)
            if files:
                found[p.name] = files
        elif p.suffix.lower() in SUFFIXES:
            if p.stem in found:
                raise ActlineError(p, f"sensor {p.stem!r} has two empty rooms in {d}")
            found[p.stem] = [p]
    if not found:
        raise ActlineError(d, f"no empty-room recordings in this folder ({', '.join(SUFFIXES)} files, or a folder per sensor)")
    return found


def parse_empty_rooms(values: list[str | Path]) -> tuple[dict[str, list[Path]], list[Path] | None]:
    """(files per sensor, the files of every other sensor or None) from the ``--empty-room`` values."""
    per_sensor: dict[str, list[Path]] = {}
    default = None
    for v in values:
        p = Path(v)
        if not p.exists() and "=" in str(v):
            sensor, _, file = str(v).partition("=")
            found = {sensor: [Path(file)]}
            if not sensor or not Path(file).is_file():
                raise ActlineError("--empty-room", f"{v!r}: expected SENSOR=FILE with an existing file, a folder or a file")
        elif p.is_dir():
            found = _folder(p)
        elif p.is_file():
            if default is not None:
                raise ActlineError(p, f"a second empty room for every sensor (the first: {default[0]})")
            default = [p]
            continue
        else:
            raise ActlineError(p, "empty-room file or folder not found")
        for sensor, files in found.items():
            if sensor in per_sensor:
                raise ActlineError(files[0], f"a second empty room for sensor {sensor!r} (the first: {per_sensor[sensor][0]})")
            per_sensor[sensor] = files
    return per_sensor, default


class EmptyRooms:
    """The seeded empty rooms, by sensor: ``for_sensor(sensor)`` gives that sensor its own copy."""

    def __init__(self, values: list[str | Path], frame_shape: tuple[int, int] | None = None,
                 cfg: BackgroundConfig | None = None):
        per_sensor, default = parse_empty_rooms(values)
        self.cfg = cfg or BackgroundConfig()
        self.rooms = {s: self._seed(files, frame_shape) for s, files in per_sensor.items()}
        self.default = self._seed(default, frame_shape) if default else None

    def _seed(self, files: list[Path], frame_shape) -> BackgroundModel:
        x = _frames(files, frame_shape)
        bg = BackgroundModel(x.shape[1:], self.cfg)
        bg.seed(x, empty=True)
        return bg

    def __len__(self) -> int:
        return len(self.rooms) + (self.default is not None)

    def for_sensor(self, sensor: str) -> BackgroundModel | None:
        bg = self.rooms.get(sensor, self.default)
        return None if bg is None else copy.deepcopy(bg)
