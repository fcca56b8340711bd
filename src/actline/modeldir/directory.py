"""Model directories on disk: ``config.json`` + weights + ``checksums.json``. Loading never unpickles.

``config.json`` holds the model's kind and arguments (``arch``, for ``create_model``), the classes,
the window and preprocessing, the training config, metrics and a fingerprint of the data.
Weights are ``model.safetensors`` (torch models) or ``model.onnx`` (tree models and exports); the parts of
a composite model (:mod:`actline.modeldir.parts`) lie beside them.
``checksums.json`` holds the SHA-256 of every other file; every load verifies the files it reads
and refuses a directory without checksums. A directory is written to a temporary directory and
renamed into place, so a crash leaves the old one or the new one, never a mix.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable

from actline.core.atomic import atomic_dir, recover_dir, write_json, write_text
from actline.core.errors import ActlineError
from actline.core.hashing import sha256_file
from actline.core.jsonfile import read_json

WEIGHTS, ONNX, CONFIG, CHECKSUMS = "model.safetensors", "model.onnx", "config.json", "checksums.json"
SIDECAR = ".sha256"  # beside a file exported on its own: <file>.sha256
FORMAT = "actline-model/1"
MAX_CONFIG_BYTES = 16 << 20  # a config is a few KB; refuse to parse anything absurd


def write_model_dir(out: str | Path, config: dict, files: dict[str, Callable[[Path], None]]) -> Path:
    """Write ``files`` (name -> writer of that path) and ``config.json``, checksum them all, swap in."""
    out = Path(out)
    with atomic_dir(out, overwrite=True) as tmp:
        for name, write in files.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            write(tmp / name)
        sums = {name: sha256_file(tmp / name) for name in files}
        write_json(tmp / CONFIG, {"format": FORMAT, **config, **({"weights_sha256": sums[WEIGHTS]} if WEIGHTS in sums else {})})
        sums[CONFIG] = sha256_file(tmp / CONFIG)
        write_json(tmp / CHECKSUMS, dict(sorted(sums.items())))
    return out


def save_model_dir(out: str | Path, model, config: dict) -> Path:
    """A torch model: its state dict as safetensors, beside ``config.json``."""
    return write_model_dir(out, config, {WEIGHTS: weights_writer(model)})


def weights_writer(model):
    """What writes ``model``'s state dict as safetensors to a path (for :func:`write_model_dir`)."""
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    return lambda p: save_file(state, str(p), metadata={"format": FORMAT})


def write_checksums(root: str | Path) -> Path:
    """``checksums.json`` over every file under ``root`` (relative paths), for directories assembled by hand,
    such as a timeline model's (its nested model directories keep their own as well)."""
    root = Path(root)
    sums = {p.relative_to(root).as_posix(): sha256_file(p) for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != CHECKSUMS}
    return write_json(root / CHECKSUMS, sums)


def add_file(model_dir: str | Path, name: str, write: Callable[[Path], None]) -> Path:
    """Add (or replace) one file of an existing model directory and its checksum, atomically."""
    import shutil

    model_dir = Path(model_dir)
    read_config(model_dir)
    with atomic_dir(model_dir, overwrite=True) as tmp:
        shutil.copytree(model_dir, tmp, dirs_exist_ok=True)
        write(tmp / name)
        sums = json.loads((tmp / CHECKSUMS).read_text(encoding="utf-8")) if (tmp / CHECKSUMS).is_file() else {}
        sums[name] = sha256_file(tmp / name)
        write_json(tmp / CHECKSUMS, dict(sorted(sums.items())))
    return model_dir / name


def read_config(path: str | Path) -> dict:
    """The checked ``config.json`` of a model directory (one-line errors for anything else)."""
    path = recover_dir(path)
    cfg_path = path / CONFIG
    if not path.is_dir():
        raise ActlineError(path, "model directory not found")
    if not cfg_path.is_file():
        raise ActlineError(path, f"not a model directory (no {CONFIG})")
    if cfg_path.stat().st_size > MAX_CONFIG_BYTES:
        raise ActlineError(cfg_path, f"too large for a model config ({cfg_path.stat().st_size} bytes)")
    verify(path, CONFIG)
    cfg = read_json(cfg_path)
    if not isinstance(cfg, dict) or cfg.get("format") != FORMAT:
        raise ActlineError(cfg_path, f"not an actline model config (expected format {FORMAT!r})")
    return cfg


def _sums(model_dir: Path) -> dict:
    sums_path = model_dir / CHECKSUMS
    try:
        sums = json.loads(sums_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ActlineError(model_dir, f"no {CHECKSUMS}: the files cannot be verified (save the model again)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ActlineError(sums_path, f"unreadable ({type(exc).__name__})") from None
    if not isinstance(sums, dict):
        raise ActlineError(sums_path, "not a JSON object of file names and SHA-256 digests")
    return sums


def _check(target: Path, want) -> Path:
    if not isinstance(want, str) or sha256_file(target) != want:
        raise ActlineError(target, "checksum mismatch: the file is corrupt or was changed after saving")
    return target


def verify(model_dir: Path, name: str) -> Path:
    """Check ``name`` against ``checksums.json``; a missing or different checksum is refused."""
    target = model_dir / name
    if not target.is_file():
        raise ActlineError(target, "missing from the model directory")
    sums = _sums(model_dir)
    if name not in sums:
        raise ActlineError(target, f"has no checksum in {CHECKSUMS}")
    return _check(target, sums[name])


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR)


def write_sidecar(path: str | Path) -> Path:
    """``<file>.sha256`` (``sha256sum`` format) beside a file that travels without its model directory."""
    path = Path(path)
    return write_text(sidecar_path(path), f"{sha256_file(path)}  {path.name}\n")


def listed(path: Path) -> bool:
    """Whether ``path`` is a file of the model directory it lies in (named in its ``checksums.json``)."""
    return (path.parent / CHECKSUMS).is_file() and path.name in _sums(path.parent)


def verify_file(path: str | Path) -> Path:
    """A file on its own, such as an exported ``.onnx``: checked against its directory's ``checksums.json``
    when that lists it, else against its ``<file>.sha256``; a file with neither is refused."""
    path = Path(path)
    if listed(path):
        return verify(path.parent, path.name)
    side = sidecar_path(path)
    if not side.is_file():
        raise ActlineError(path, f"no checksum: neither {side.name} beside it nor an entry in a {CHECKSUMS} "
                                 "(write one with `actline export`, or `sha256sum FILE > FILE.sha256`)")
    try:
        fields = side.read_bytes()[:1024].decode("ascii").split()
    except (OSError, UnicodeDecodeError):
        fields = []
    if not fields or not re.fullmatch(r"[0-9a-f]{64}", fields[0]):
        raise ActlineError(side, "not a sha256 checksum file (expected '<64 hex digits>  <file name>')")
    return _check(path, fields[0])
