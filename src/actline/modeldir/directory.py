"""Model directories on disk: ``config.json`` + weights + ``checksums.json``. Loading never unpickles.

``config.json`` holds the model's kind and arguments (``arch``, for ``create_model``), the classes,
the window and preprocessing, the training config, metrics and a fingerprint of the data.
Weights are ``model.safetensors`` (torch models) or ``model.onnx`` (tree models and exports).
``checksums.json`` holds the SHA-256 of every other file; every load verifies the files it reads
and refuses a directory without checksums. A directory is written to a temporary directory and
renamed into place, so a crash leaves the old one or the new one, never a mix.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from actline.core.atomic import atomic_dir, recover_dir, write_json
from actline.core.errors import ActlineError
from actline.core.hashing import sha256_file

WEIGHTS, ONNX, CONFIG, CHECKSUMS = "model.safetensors", "model.onnx", "config.json", "checksums.json"
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
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    return write_model_dir(out, config, {WEIGHTS: lambda p: save_file(state, str(p), metadata={"format": FORMAT})})


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
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ActlineError(cfg_path, f"not valid JSON ({exc})") from None
    if not isinstance(cfg, dict) or cfg.get("format") != FORMAT:
        raise ActlineError(cfg_path, f"not an actline model config (expected format {FORMAT!r})")
    return cfg


def verify(model_dir: Path, name: str) -> Path:
    """Check ``name`` against ``checksums.json``; a missing or different checksum is refused."""
    target = model_dir / name
    sums_path = model_dir / CHECKSUMS
    if not target.is_file():
        raise ActlineError(target, "missing from the model directory")
    try:
        sums = json.loads(sums_path.read_text(encoding="utf-8"))
        want = sums[name] if isinstance(sums, dict) else None
    except FileNotFoundError:
        raise ActlineError(model_dir, f"no {CHECKSUMS}: the files cannot be verified (save the model again)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ActlineError(sums_path, f"unreadable ({type(exc).__name__})") from None
    except KeyError:
        raise ActlineError(target, f"has no checksum in {CHECKSUMS}") from None
    if not isinstance(want, str) or sha256_file(target) != want:
        raise ActlineError(target, "checksum mismatch: the file is corrupt or was changed after saving")
    return target
