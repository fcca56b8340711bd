"""Model directories: ``model.safetensors`` + ``config.json``. Loading never unpickles.

``config.json`` holds the architecture (name and arguments, for ``create_model``), the classes,
the preprocessing and window, the training config, metrics, a fingerprint of the data, and
the SHA-256 of the weights file, checked on every load.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from actline.atomic import atomic_path, write_json
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
    """Write weights then config (each atomically); the config names the weights' checksum."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(out / WEIGHTS, suffix=".safetensors") as tmp:
        save_file(state, str(tmp), metadata={"format": FORMAT})
        digest = sha256(tmp)
    write_json(out / CONFIG, {"format": FORMAT, **config, "weights_sha256": digest})
    return out


def read_config(path: str | Path) -> dict:
    path = Path(path)
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
    arch = dict(cfg["arch"])
    name = arch.pop("name")
    arch.pop("weights", None)  # pretrained weights are already in the state dict
    model = create_model(name, **arch)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ActlineError(weights, f"weights do not fit {name}: {str(exc).splitlines()[0]}") from None
    return model.to(device).eval(), cfg
