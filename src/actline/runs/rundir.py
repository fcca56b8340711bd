"""A training run's directory, for both pipelines: who may write into it, what it records, when it is complete.

:class:`RunDir` owns what every run does around the fitting: refuse an occupied directory unless the
user says which they mean (``--resume`` to continue an interrupted run from its checkpoints,
``--overwrite`` to start again), record how the run was started (``run.json``: the data and, for
timelines, the settings), the settings a run resumes with, the split file, and completion. What
differs between the two pipelines is data, in one :class:`Pipeline` each (:data:`CLIP`,
:data:`TIMELINE`), including what a resumed run may change and the settings added after older runs
were saved, with the value that keeps an older run's behaviour.

A clip run (``actline train``) is complete when ``metrics.json`` exists: it is written last. A
timeline run (``actline train-timeline``) writes its model directory in one rename at the end; until
then ``OUT/checkpoints/run.json`` says it is unfinished.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import yaml

from actline.core.atomic import write_json, write_text
from actline.core.errors import ActlineError
from actline.data.splits import SPLIT, read_split, write_split
from actline.train.config import LoadedConfig, TrainConfig
from actline.train.config_io import apply, load_settings, parse_override, renamed
from actline.train.timeline_fit import TimelineConfig

__all__ = ["CLIP", "CONFIG_YAML", "METRICS", "RUN_JSON", "SPLIT", "TIMELINE", "Pipeline", "RunDir", "fingerprint",
           "plain", "read_split", "run_settings", "write_predictions", "write_split"]

METRICS, RUN_JSON, CONFIG_YAML, CHECKPOINTS = "metrics.json", "run.json", "config.yaml", "checkpoints"
_ASK = "use --resume to continue or --overwrite to start again"


@dataclass(frozen=True)
class Pipeline:
    """What differs between the runs of two pipelines (see the module doc)."""

    command: str  # named in errors
    settings: Callable[[], object]  # a fresh settings dataclass
    run_json: str  # where the record of how the run started lies, inside the run
    finished: str  # a run is complete once this file exists
    saved_config: str | None  # the resolved settings beside run.json (None: inside run.json, "config")
    refusals: dict  # occupied state -> what the refusal says ("files": anything at all in the directory)
    outputs: tuple = ()  # what --overwrite removes once a new run starts (the rest is overwritten)
    resumable: tuple | None = None  # settings a resumed run may change (None: any)
    later: dict = field(default_factory=dict)  # dotted setting -> its value before it existed (older runs resume so)


class RunDir:
    """One run directory of a :class:`Pipeline`."""

    def __init__(self, path: str | Path, pipeline: Pipeline):
        self.path, self.pipeline = Path(path), pipeline

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINTS

    def state(self) -> str:
        """"finished", "unfinished", "files" (something else lies there) or "empty"."""
        p, pipe = self.path, self.pipeline
        if self.checkpoints.is_dir() or ((p / pipe.run_json).is_file() and not (p / pipe.finished).is_file()):
            return "unfinished"  # (a timeline run that replaces a model leaves the old one until it is done)
        if (p / pipe.finished).is_file():
            return "finished"
        return "files" if p.is_dir() and any(p.iterdir()) else "empty"

    def prepare(self, resume: bool = False, overwrite: bool = False) -> None:
        """Refuse to clobber a run by accident; on ``resume``, check there is a run to continue."""
        state = self.state()
        if resume:
            if state == "finished":
                raise ActlineError(self.path, f"this run has finished ({self.pipeline.finished} exists); there is "
                                              "nothing to resume")
            if not (self.path / self.pipeline.run_json).is_file():
                raise ActlineError(self.path, f"nothing to resume (no {self.pipeline.run_json}: not an actline "
                                              f"{self.pipeline.command} run, or it finished)")
            return
        if state in self.pipeline.refusals and not overwrite:
            raise ActlineError(self.path, f"holds {self.pipeline.refusals[state]}")

    def start(self, record: dict, config: dict | None = None, resume: bool = False) -> None:
        """A run begins: for a new one, what ``--overwrite`` replaces goes; then ``run.json`` and the resolved
        settings are written."""
        for name in () if resume else (*self.pipeline.outputs, CHECKPOINTS):
            target = self.path / name
            shutil.rmtree(target, ignore_errors=True) if target.is_dir() else target.unlink(missing_ok=True)
        self.path.mkdir(parents=True, exist_ok=True)
        if self.pipeline.saved_config is not None and config is not None:
            write_text(self.path / self.pipeline.saved_config, yaml.safe_dump(plain(config), sort_keys=False))
        elif config is not None:
            record = {**record, "config": plain(config)}
        write_json(self.path / self.pipeline.run_json, record)

    def record(self) -> dict:
        """``run.json`` of an interrupted run: how it was started."""
        path = self.path / self.pipeline.run_json
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ActlineError(path, f"unreadable ({type(exc).__name__}); delete the checkpoints to start "
                                     "over") from None
        if not isinstance(record, dict) or "data" not in record:
            raise ActlineError(path, "unreadable (no 'data'); delete the checkpoints to start over")
        return record

    def saved_settings(self) -> dict:
        """The settings an interrupted run was started with, as saved (any spelling actline wrote)."""
        if self.pipeline.saved_config is None:
            return dict(self.record().get("config") or {})
        path = self.path / self.pipeline.saved_config
        try:
            saved = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ActlineError(path, f"unreadable ({type(exc).__name__})") from None
        if not isinstance(saved, dict):
            raise ActlineError(path, "not a mapping of settings")
        return saved

    def resumed_settings(self, overrides: list[str]) -> LoadedConfig:
        """The settings the interrupted run resumes with: as saved, every later setting at its old value
        (:attr:`Pipeline.later`), then ``overrides`` (only :attr:`Pipeline.resumable` ones)."""
        pipe, saved = self.pipeline, self.saved_settings()
        cfg = apply(pipe.settings(), saved, str(self.path), quiet=True)
        nested = renamed(cfg, saved, str(self.path), quiet=True)
        for key, value in later_values(nested, pipe.later).items():
            apply(cfg, parse_override(f"{key}={value}"), str(self.path), quiet=True)
        given = set(nested)
        load_settings(cfg, None, overrides, given)
        return LoadedConfig(cfg.validate(), frozenset(given))

    def complete(self, metrics: dict) -> None:
        """A clip run is done: the checkpoints go, and ``metrics.json`` is written, last."""
        shutil.rmtree(self.checkpoints, ignore_errors=True)
        write_json(self.path / METRICS, metrics)

    def write_split(self, split: dict) -> None:
        write_split(self.path, split)

    def read_split(self) -> dict:
        return read_split(self.path)


def later_values(saved: dict, later: dict) -> dict:
    """The later settings (dotted keys) that ``saved`` (nested) predates, with their old values."""
    def has(key: str) -> bool:
        node = saved
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True

    return {k: v for k, v in later.items() if not has(k)}


def run_settings(pipeline: Pipeline, data: Path | None, out: Path | None, config: Path | None = None,
                 overrides: list[str] = (), resume: Path | None = None) -> tuple[Path, Path, LoadedConfig]:
    """(data, out, settings) of a new run (``data``, ``out``, a YAML file and ``key=value`` overrides), or of the
    interrupted run at ``resume``: its data unless ``data`` is given, its saved settings changed only by
    overrides the pipeline allows (a config file replaces them where any setting may change)."""
    overrides = list(overrides)
    if resume is None:
        if data is None or out is None:
            raise ActlineError(pipeline.command, "give the data and --out (or --resume OUT)")
        given: set = set()
        cfg = load_settings(pipeline.settings(), config, overrides, given).validate()
        return Path(data), Path(out), LoadedConfig(cfg, frozenset(given))
    run = RunDir(resume, pipeline)
    run.prepare(resume=True)
    record = run.record()
    allowed = pipeline.resumable
    if allowed is not None:
        changed = sorted({o.split("=", 1)[0].strip() for o in overrides} - set(allowed)) + (["config"] if config else [])
        if changed or (out is not None and Path(out) != Path(resume)):
            raise ActlineError("--resume", f"a resumed run keeps its settings (only {', '.join(allowed)} may "
                                           f"change; got {', '.join(changed) or '--out'})")
    if config is not None:  # a new file in place of the saved settings
        given = set()
        cfg = LoadedConfig(load_settings(pipeline.settings(), config, overrides, given).validate(), frozenset(given))
    else:
        cfg = run.resumed_settings(overrides)
    return Path(data or record["data"]), Path(out or resume), cfg


CLIP = Pipeline(
    command="train", settings=TrainConfig, run_json=RUN_JSON, finished=METRICS, saved_config=CONFIG_YAML,
    refusals={"finished": f"a finished run: {_ASK}", "unfinished": f"an unfinished run: {_ASK}"},
    outputs=(METRICS, SPLIT, RUN_JSON, "history.json", "predictions.csv", "curves.png", "confusion.png", "model",
             "baselines"),
    resumable=None,  # the saved config, the data and any --set (the checkpoints are keyed by seed)
    # added to the recipe after 0.3.1 (the gate), 0.4.0 (its fallback CNN), 0.5 (how it tells a new room) and
    # 0.6 (its shape trees): a run started before them and resumed now finishes as it would have
    later={"room_gate.threshold": 0.0, "room_gate.fallback": "none", "room_gate.measure": "fingerprint",
           "room_gate.shape": "none"},
)

TIMELINE = Pipeline(
    command="train-timeline", settings=TimelineConfig, run_json=f"{CHECKPOINTS}/{RUN_JSON}",
    finished="config.json", saved_config=None,
    refusals={"finished": "a timeline model: use --overwrite to replace it",
              "unfinished": "an unfinished run: use --resume to continue or --overwrite to replace it",
              "files": "files: use --overwrite to replace it"},
    resumable=("device", "amp", "num_threads", "cache_dir"),  # how it runs, never what it learns
)


def fingerprint(ds) -> str:
    """Names a data set's content: recordings (length, times, a sum of the frames) and labelled samples."""
    h = hashlib.sha256()
    for rid in sorted(ds.recordings):
        r = ds.recordings[rid]
        h.update(f"{rid}:{r.n_frames}:{r.timestamps[0]:.3f}:{r.timestamps[-1]:.3f}:{float(r.frames.sum()):.3f}".encode())
    for s in ds.samples:
        h.update(f"{s.recording_id}:{s.frame_idx}:{s.label}:{s.subset}".encode())
    return h.hexdigest()[:16]


def write_predictions(path: Path, ds, samples, prob, baselines: dict | None = None) -> None:
    """One row per evaluation window: id, recording, frame, true class, predicted class, confidence, and what
    each baseline predicted (``<name>_pred``: majority, classical), so figures pool over folds for them too."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    names = sorted(baselines or {})
    w.writerow(["sample_id", "recording_id", "frame_idx", "true", "pred", "confidence", *(f"{n}_pred" for n in names)])
    for i, (s, p) in enumerate(zip(samples, prob)):
        k = int(p.argmax())
        w.writerow([s.id, s.recording_id, s.frame_idx, ds.classes[s.label], ds.classes[k], f"{p[k]:.4f}",
                    *(ds.classes[int(baselines[n][i])] for n in names)])
    write_text(path, buf.getvalue())


def plain(obj):
    """JSON-safe copy (tuples become lists, anything else its string)."""
    return json.loads(json.dumps(obj, default=lambda o: list(o) if isinstance(o, tuple) else str(o)))
