"""Which process am I? The one place that reads ``RANK`` and ``WORLD_SIZE``.

Inside an initialised ``torch.distributed`` group its own rank and size win; otherwise the
environment that ``torchrun`` (or ``actline train --devices N``) sets; otherwise rank 0 of 1.
No torch import unless torch is already loaded, so readers and the ONNX path stay torch-free.
"""

from __future__ import annotations

import os
import sys


def rank_and_world() -> tuple[int, int]:
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    return rank_and_world()[0] == 0


def under_launcher() -> bool:
    """Started by torchrun (or another launcher that sets RANK and WORLD_SIZE > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ
