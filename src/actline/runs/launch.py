"""Starting a training run: from a fresh config or an interrupted run, in one process or several (DDP)."""

from __future__ import annotations

import json
from pathlib import Path

from actline.core.distributed import is_main_process, under_launcher
from actline.core.errors import ActlineError
from actline.runs.rundir import CONFIG_YAML, METRICS, RUN_JSON


def resume_settings(run: Path) -> tuple[Path, Path]:
    """(data directory, config file) an interrupted run was started with."""
    if not (run / CONFIG_YAML).is_file() or not (run / RUN_JSON).is_file():
        raise ActlineError(run, "not an actline training run (no config.yaml and run.json)")
    try:
        return Path(json.loads((run / RUN_JSON).read_text(encoding="utf-8"))["data"]), run / CONFIG_YAML
    except (OSError, KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ActlineError(run / RUN_JSON, f"unreadable ({type(exc).__name__})") from None


# settings added to the recipe after 0.3.1, with the value that keeps an earlier run's behaviour: a run
# started before them and resumed now finishes as it would have
LATER_SETTINGS = {"room_gate": 0.0, "gate_fallback": "none", "room_measure": "fingerprint"}


def resume_overrides(config_yaml: Path) -> list[str]:
    """``key=value`` settings an interrupted run resumes with: the old value of every setting its saved
    config predates (:data:`LATER_SETTINGS`)."""
    import yaml

    try:
        saved = yaml.safe_load(config_yaml.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ActlineError(config_yaml, f"unreadable ({type(exc).__name__})") from None
    if not isinstance(saved, dict):
        raise ActlineError(config_yaml, "not a mapping of settings")
    return [f"{k}={v}" for k, v in LATER_SETTINGS.items() if k not in saved]


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
