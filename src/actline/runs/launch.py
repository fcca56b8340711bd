"""Starting a training run: from a fresh config or an interrupted run, in one process or several (DDP)."""

from __future__ import annotations

import json
from pathlib import Path

from actline.core.distributed import is_main_process, under_launcher
from actline.core.errors import ActlineError
from actline.runs.rundir import CLIP, METRICS, run_settings
from actline.train.config import LoadedConfig


def clip_settings(data: Path | None, out: Path | None, config: Path | None = None, overrides: list[str] = (),
                  resume: Path | None = None) -> tuple[Path, Path, LoadedConfig]:
    """(data, out, settings) of a new ``actline train`` run, or of the interrupted run at ``resume``: its data and
    saved config (settings it predates at their old values, :data:`~actline.runs.rundir.CLIP`), then
    ``overrides``; a config file given on resume replaces the saved one."""
    return run_settings(CLIP, data, out, config, overrides, resume)


def launch(data: Path, out: Path, cfg, devices: int = 1, num_nodes: int = 1, resume: bool = False,
           overwrite: bool = False, progress=None) -> dict | None:
    """Train in this process, in ``devices`` local processes, or as one rank of torchrun's group.

    Returns the run's metrics on the process that wrote them, ``None`` on the other ranks.
    """
    from actline.train.ddp import run_distributed

    if num_nodes > 1 and not under_launcher():
        raise ActlineError("--num-nodes", f"{num_nodes} machines: start this command on each with torchrun, e.g. "
                           f"torchrun --nnodes {num_nodes} --nproc-per-node {devices} --rdzv-backend c10d "
                           "--rdzv-endpoint HOST:29500 -m actline.cli train ...")
    if devices > 1 or under_launcher():
        run_distributed(train_rank, (str(data), str(out), cfg, resume, overwrite), devices)
        if not is_main_process():
            return None
        return json.loads((out / METRICS).read_text(encoding="utf-8"))
    from actline.runs.clip_run import train_run

    return train_run(data, out, cfg, progress=progress, resume=resume, overwrite=overwrite)


def train_rank(data: str, out: str, cfg, resume: bool, overwrite: bool) -> None:
    """One rank of a distributed run (module level, so that spawned processes can import it)."""
    from actline.runs.clip_run import train_run

    train_run(data, out, cfg, resume=resume, overwrite=overwrite)
