"""SHA-256 digests: of a file (streamed), of bytes, of a torch state dict, and of an unsafe name. One helper for each."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$")


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_bytes(*parts: bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.hexdigest()


def state_digest(state: dict) -> str:
    """Over a torch state dict's names and values: names what the weights are, wherever they came from."""
    h = hashlib.sha256()
    for k, v in sorted(state.items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def safe_file_name(name: str) -> str:
    """A file name for an id that came from the network (a sensor id): itself when harmless (letters, digits,
    ``.``, ``_``, ``-``, at most 64, not starting with a dot), else ``s-`` and 16 hex digits of its SHA-256."""
    return name if _SAFE_NAME.match(name) else "s-" + hashlib.sha256(name.encode()).hexdigest()[:16]
