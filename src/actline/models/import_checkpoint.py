"""Reading checkpoints made by other tools, without running their code.

``torch.load(weights_only=True)`` only. MMAction2 (mmengine) checkpoints carry logging objects
in their ``message_hub``/``meta``; we let the restricted unpickler build inert stand-ins for the
few known ones instead of importing mmengine, and refuse anything else by name.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

from actline.core.errors import ActlineError


class _Inert:
    """Stands in for a logging object in a checkpoint: keeps its state, runs no code of its own."""

    def __setstate__(self, state):
        self.state = state


class _HistoryBuffer(_Inert):
    pass


class _ConfigDict(dict):
    pass


KNOWN_STUBS = [
    (_HistoryBuffer, "mmengine.logging.history_buffer.HistoryBuffer"),
    (_ConfigDict, "mmengine.config.config.ConfigDict"),
]


def load_foreign_checkpoint(path: str | Path) -> dict:
    """A foreign checkpoint as a dict of tensors and plain values; never unpickles arbitrary code."""
    path = Path(path)
    if not path.is_file():
        raise ActlineError(path, "checkpoint file not found")
    try:
        with torch.serialization.safe_globals(KNOWN_STUBS):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        try:
            needed = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
        except Exception:  # noqa: BLE001 - only used to improve the message
            needed = []
        names = ", ".join(n for n in needed if n not in {s[1] for s in KNOWN_STUBS})
        raise ActlineError(path, "refusing to unpickle code objects from this checkpoint"
                           + (f" ({names})" if names else f" ({str(exc).splitlines()[0]})")
                           + "; re-save only its state_dict with torch.save(ckpt['state_dict'], path)") from None
    except (RuntimeError, OSError, EOFError) as exc:
        raise ActlineError(path, f"not a readable PyTorch checkpoint: {str(exc).splitlines()[0]}") from None
    if not isinstance(obj, dict):
        raise ActlineError(path, f"expected a dict checkpoint, got {type(obj).__name__}")
    return obj
