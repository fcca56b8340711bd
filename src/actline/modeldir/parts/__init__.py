"""Composite model formats: each kind of part a model directory may hold, in one module each.

A clip classifier is its main weights (``model.safetensors``, or ``model.onnx`` for tree models and
exports) wrapped by the parts its ``config.json`` names, in the order of :data:`PARTS`:

- :mod:`.fusion`: a CNN fused with window-statistics trees everywhere (``arch.name == "fusion"``);
- :mod:`.room_gate`: the CNN where the room is familiar, the CNN, a fallback CNN and shape trees fused
  where it is not (``room_gate``; its fallback CNN is :mod:`.fallback`, its trees :mod:`.trees`, its shape
  trees ``shape.onnx``);
- :mod:`.class_guard`: classes seen rarely in training scaled down (``class_guard``), except in rooms
  taught by ``actline adapt``.

Each part module owns its files, its config, how it is loaded, saved and exported, behind the one
:class:`~actline.models.contract.WindowClassifier` contract, and gives a :class:`Part`. Adding a kind
is a module and one line in :data:`_BUILTIN` (or a :func:`register` call, then :func:`unregister`). Loading, saving and export
walk the registry; nothing else names a part.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from actline.core.errors import ActlineError


@dataclass
class Source:
    """Where a model's files lie, and how to run what is read: a model directory (``directory``), or an
    exported ``.onnx`` file (``export``) whose parts lie beside it as ``<stem>.<name>``."""

    config: dict
    where: Path  # named in errors
    backend: str = "torch"  # "torch" or "onnx"
    device: str = "cpu"
    threads: int = 0
    directory: Path | None = None
    export: Path | None = None

    def path(self, name: str) -> Path:
        return self.directory / name if self.directory is not None else companion(self.export, name)

    def has(self, name: str) -> bool:
        return self.path(name).is_file()

    def file(self, name: str) -> Path:
        """The verified file ``name`` (against the directory's checksums, or the companion's own)."""
        from actline.modeldir.directory import verify, verify_file

        p = self.path(name)
        if not p.is_file():
            raise ActlineError(p, "missing: the model needs it")
        return verify(self.directory, name) if self.directory is not None else verify_file(p)

    def onnx(self, name: str):
        from actline.models.contract import OnnxClassifier

        return OnnxClassifier(self.file(name), self.threads)

    def torch(self, name: str, arch: dict):
        from actline.modeldir.reader import build_torch
        from actline.models.contract import TorchClassifier

        return TorchClassifier(build_torch(self.file(name), arch, self.where).to(self.device), self.device)


def companion(path: Path, name: str) -> Path:
    """Where a part of an exported ``.onnx`` lies: ``<stem>.<name>`` beside it, as ``actline export`` writes it."""
    return path.with_name(f"{path.stem}.{name}")


@dataclass(frozen=True)
class Part:
    """One kind of composite part (see the module doc). Only ``name``, ``applies`` and ``load`` are required.

    - ``applies(config)``: whether a model config names this part;
    - ``load(classifier, source)``: the classifier built so far, wrapped by this part;
    - ``files(config, backend)``: the files it reads beside the main weights (``backend`` "onnx" for an export);
    - ``save(classifier)``: for the instance of this part in a trained classifier (found by ``kind``),
      ``(config fragment, {file name: writer})`` that :func:`~actline.modeldir.directory.write_model_dir`
      writes;
    - ``export(job)``: writes its files beside an ONNX export (:class:`~actline.apps.onnx_export.ExportJob`);
    - ``main_arch(config)``: the architecture the main weights hold, when the part changes it (fusion);
    - ``keys``: the top-level keys of the model config it owns, carried into an export's metadata so that
      the export loads with the same parts.
    """

    name: str
    applies: Callable[[dict], bool]
    load: Callable[[object, Source], object]
    order: int = 50  # wrapping order: lower wraps first (fusion 10, room gate 20, the class guard last, 100)
    kind: type | None = None
    files: Callable[[dict, str], list[str]] = lambda config, backend: []
    save: Callable[[object], tuple[dict, dict]] | None = None
    export: Callable[[object], None] | None = None
    main_arch: Callable[[dict], dict] | None = None
    keys: tuple[str, ...] = ()


PARTS: list[Part] = []


def register(part: Part) -> Part:
    """Add a kind of part to the registry (kept in wrapping order)."""
    if any(p.name == part.name for p in PARTS):
        raise ValueError(f"a part named {part.name!r} is registered already")
    PARTS.append(part)
    PARTS.sort(key=lambda p: p.order)
    return part


def unregister(name: str) -> None:
    PARTS[:] = [p for p in PARTS if p.name != name]


def active(config: dict) -> list[Part]:
    """The parts a model config names, in wrapping order."""
    _load_builtin()
    return [p for p in PARTS if p.applies(config)]


def wrap(classifier, source: Source):
    """The main classifier wrapped by every part its config names."""
    for part in active(source.config):
        classifier = part.load(classifier, source)
    return classifier


def main_arch(config: dict) -> dict | None:
    """The architecture of the main weights: the config's ``arch`` as the parts read it."""
    arch = config.get("arch")
    for part in active(config):
        if part.main_arch is not None:
            arch = part.main_arch(config)
    return arch


def config_keys(config: dict) -> list[str]:
    """The model config's keys that its parts own (an export's metadata carries them)."""
    return [k for p in active(config) for k in p.keys if k in config]


def part_files(config: dict, backend: str) -> list[str]:
    """Every file the parts of a model read beside its main weights."""
    return [f for p in active(config) for f in p.files(config, backend)]


def find(classifier, kind: type):
    """The instance of ``kind`` that ``classifier`` is or wraps (through ``inner``); None without one."""
    while classifier is not None and not isinstance(classifier, kind):
        classifier = classifier.__dict__.get("inner")  # the wrapped classifier; never forwarded attributes
    return classifier


def save(classifier) -> tuple[dict, dict]:
    """(config fragment, files) of every part found in a trained classifier."""
    _load_builtin()
    config, files = {}, {}
    for part in PARTS:
        found = find(classifier, part.kind) if part.kind is not None and part.save is not None else None
        if found is not None:
            c, f = part.save(found)
            config.update(c)
            files.update(f)
    return config, files


_BUILTIN = ("fusion", "room_gate", "class_guard")  # trees and fallback are parts of these two


def _load_builtin() -> None:
    """Import the built-in part modules (each registers itself)."""
    import importlib

    for name in _BUILTIN:
        importlib.import_module(f"{__name__}.{name}")
