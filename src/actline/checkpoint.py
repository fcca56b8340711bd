"""Model directories: ``model.safetensors`` + ``config.json``. Loading never unpickles.

``config.json`` holds the architecture (name and arguments, for ``create_model``), the classes,
the preprocessing and window, the training config, metrics, a fingerprint of the data, and
the SHA-256 of the weights file, checked on every load.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from actline.atomic import atomic_dir, recover_dir, write_json
from actline.errors import ActlineError

WEIGHTS, CONFIG = "model.safetensors", "config.json"
FORMAT = "actline-model/1"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_model_dir(out: str | Path, model: torch.nn.Module, config: dict) -> Path:
    """Write weights and config into a temporary directory, then rename it into place.

    A crash at any moment leaves the previous model directory or the new one, never a mix of
    old weights and new config (the config names the weights' SHA-256, checked on every load).
    """
    out = Path(out)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_dir(out, overwrite=True) as tmp:
        save_file(state, str(tmp / WEIGHTS), metadata={"format": FORMAT})
        with open(tmp / WEIGHTS, "rb+") as fh:
            os.fsync(fh.fileno())
        digest = sha256(tmp / WEIGHTS)
        write_json(tmp / CONFIG, {"format": FORMAT, **config, "weights_sha256": digest})
    return out


def read_config(path: str | Path) -> dict:
    path = recover_dir(path)
    cfg_path = path / CONFIG
    if not path.is_dir():
        raise ActlineError(path, "model directory not found")
    if not cfg_path.is_file():
        raise ActlineError(path, f"not a model directory (no {CONFIG})")
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ActlineError(cfg_path, f"not valid JSON ({exc})") from None
    if not isinstance(cfg, dict) or cfg.get("format") != FORMAT:
        raise ActlineError(cfg_path, f"not an actline model config (expected format {FORMAT!r})")
    return cfg


def load_model_dir(path: str | Path, pipeline: str | None = None, device: str = "cpu"):
    """(model in eval mode, config). ``pipeline`` refuses a directory made by another pipeline."""
    from actline.models import create_model

    path = Path(path)
    cfg = read_config(path)
    if pipeline and cfg.get("pipeline") != pipeline:
        raise ActlineError(path, f"this is a {cfg.get('pipeline')!r} model, not a {pipeline!r} model")
    weights = path / WEIGHTS
    if not weights.is_file():
        raise ActlineError(path, f"{WEIGHTS} is missing")
    if cfg.get("weights_sha256") and sha256(weights) != cfg["weights_sha256"]:
        raise ActlineError(weights, "checksum mismatch: the weights file is corrupt or was changed after saving")
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise ActlineError(weights, f"cannot read safetensors weights: {exc}") from None
    arch = cfg.get("arch")
    if not isinstance(arch, dict) or not isinstance(arch.get("name"), str):
        raise ActlineError(path / CONFIG, "'arch' must be an object with the model's 'name'")
    arch = dict(arch)
    name = arch.pop("name")
    arch.pop("weights", None)  # pretrained weights are already in the state dict
    # Build on the meta device first: a config that asks for a huge model costs no memory,
    # and its shapes are compared with the weights file before anything is allocated.
    try:
        with torch.device("meta"):
            skeleton = create_model(name, **arch)
    except ActlineError:
        raise
    except Exception as exc:  # noqa: BLE001 - any config the factory cannot build is a bad model directory
        raise ActlineError(path / CONFIG, f"cannot build {name!r} from its arguments ({type(exc).__name__}: {exc})") from None
    want = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in state.items()}
    if want != got:
        diff = sorted(set(want) ^ set(got)) or [k for k in want if want[k] != got[k]]
        raise ActlineError(weights, f"weights do not fit {name}: {len(diff)} tensor(s) differ, e.g. {diff[0]}")
    model = create_model(name, **arch)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ActlineError(weights, f"weights do not fit {name}: {str(exc).splitlines()[0]}") from None
    return model.to(device).eval(), cfg
