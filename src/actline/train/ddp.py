"""Multi-process training on PyTorch's own engine (DistributedDataParallel), nothing home-made.

- One machine: ``actline train ... --devices N`` starts N processes with ``torch.multiprocessing``
  (gloo on CPUs, NCCL on GPUs) on a free loopback port.
- Several machines, or any launcher you prefer: ``torchrun --nnodes M --nproc-per-node N
  --rdzv-endpoint HOST:PORT -m actline.cli train ...``; actline sees ``WORLD_SIZE`` and joins the
  group that torchrun set up.

Each rank trains on its shard; rank 0 evaluates the whole evaluation set and writes the run.
"""

from __future__ import annotations

import os
import socket
from typing import Callable

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def backend() -> str:
    return "nccl" if torch.cuda.is_available() else "gloo"


def under_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, fn: Callable, args: tuple) -> None:
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank),
                       "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank)})
    dist.init_process_group(backend(), rank=rank, world_size=world)
    if torch.cuda.is_available():
        torch.cuda.set_device(rank % torch.cuda.device_count())
    try:
        fn(*args)
    finally:
        dist.destroy_process_group()


def run_distributed(fn: Callable, args: tuple, devices: int) -> None:
    """Call ``fn(*args)`` on every rank: joined to torchrun's group, or in ``devices`` local processes."""
    if under_torchrun():
        dist.init_process_group(backend())
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)) % torch.cuda.device_count())
        try:
            fn(*args)
        finally:
            dist.destroy_process_group()
        return
    if devices <= 1:
        fn(*args)
        return
    mp.spawn(_worker, args=(devices, _free_port(), fn, args), nprocs=devices, join=True)
