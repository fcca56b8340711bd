"""``actline adapt MODEL --data ROOM_DATA --out NEW_MODEL``: teach a trained model a new room.

ROOM_DATA holds a few labelled minutes recorded in the new room (a calibration session in which a person
does each of the room's activities once: ``actline synth --calibration`` makes one for the synthetic rooms,
``actline label`` or ``actline data import`` for yours). The model's CNN is fine-tuned on them
(:mod:`actline.train.adapt_fit`), with windows of its original training data replayed beside them when
given (``--replay DATA``) so that the rooms it knew are not forgotten. The room gate learns the room's
empty room, so that it reads the room as familiar; with ``--replay``, its trees (and shape trees) are refit on
the training data and the session (:mod:`actline.runs.adapt_trees`), and in the room the adapted CNN is fused
with them.

Written: NEW_MODEL, a model directory like any other (``actline predict``, ``stream``, ``serve``,
``export`` take it), whose ``config.json`` says where it came from (``adapted``), and ``adapt.json`` beside
its weights: the new room's other recordings (``--eval DATA``: its recordings of the room's locations) and
the old data's held-out part (with ``--replay``), each scored before and after beside the baselines.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np

from actline.core.atomic import atomic_dir, write_json
from actline.core.errors import ActlineError
from actline.core.hashing import sha256_file
from actline.data import ClipDataset, WindowRule, load_dataset
from actline.data.background_class import add_background_class
from actline.evaluate import baselines as bl
from actline.evaluate.steps import evaluate_with_baselines
from actline.metrics.classification import confusion
from actline.modeldir.directory import (
    CHECKSUMS,
    CONFIG,
    FORMAT,
    ONNX,
    WEIGHTS,
    read_config,
    weights_writer,
    write_checksums,
)
from actline.modeldir.parts.room_gate import ROOMS, SHAPE, room_gate_of, rooms_writer
from actline.modeldir.parts.trees import TREES
from actline.modeldir.reader import load_classifier, load_model_dir
from actline.runs.adapt_trees import refit_shape, refit_trees
from actline.runs.fitting import WindowBank, recording_backgrounds
from actline.runs.rundir import fingerprint, read_split
from actline.train.adapt_fit import AdaptConfig, fit_room
from actline.train.config import read_saved

REPORT = "adapt.json"


def adapt_model(model_dir, room_data, out, cfg: AdaptConfig | None = None, replay=None, eval_data=None,
                progress=None, resume: bool = False, overwrite: bool = False) -> dict:
    """Fine-tune the model at ``model_dir`` on ``room_data``, write the adapted model at ``out``; returns the report."""
    t0, cfg = time.time(), (cfg or AdaptConfig()).validate()
    model_dir, out = Path(model_dir), Path(out)
    _prepare(out, resume, overwrite)
    if cfg.num_threads:
        import torch

        torch.set_num_threads(cfg.num_threads)
    mcfg = read_config(model_dir)
    if not (model_dir / WEIGHTS).is_file():
        raise ActlineError(model_dir, "adapt teaches a CNN a new room: this model has no network weights (a tree "
                                      "model: train it again with the room's recordings in its data)")
    rule, classes = WindowRule.from_dict(mcfg["window"], model_dir / CONFIG), list(mcfg["classes"])
    room = _model_data(room_data, mcfg, model_dir)
    where = sorted({r.group for r in room.recordings.values()})
    net, _ = load_model_dir(model_dir, "clip-classifier")
    tcfg = read_saved(mcfg.get("training") or {}, str(model_dir / CONFIG))
    jitter = tcfg.augment.temporal_jitter if rule.mode == "index" else 0
    old, pool = _training_pool(replay, mcfg, model_dir, where)
    x, y, n_replay = _windows(room, rule.widened(jitter), old, pool, cfg)
    tag = (lambda desc, *a: progress(f"adapt {desc}", *a)) if progress else None  # noqa: E731
    on_epoch = (lambda row: tag(f"loss {row['train_loss']:.3f}", row["epoch"], cfg.epochs)) if tag else None
    import torch

    adapted, res = fit_room(net, torch.from_numpy(x)[:, None], y, tcfg, cfg, len(classes), out / "checkpoints", on_epoch)
    before, _ = load_classifier(model_dir)
    gate = room_gate_of(before)
    trees = refit_trees(room, old, pool, rule, gate.trees_background, classes, cfg.seed) if gate and pool else None
    shape = refit_shape(room, old, pool, rule, gate.shape_background, classes, cfg.seed) \
        if trees and gate.shape is not None else None
    rooms = recording_backgrounds(room, sorted(room.recordings))
    report = {"room_data": str(room.root), "locations": where, "room_windows": int(len(room.samples)),
              "replayed_windows": n_replay, "settings": cfg.__dict__, "learned": res.learned,
              "trees": {"refit": trees[1], "windows": len(pool) + len(room.samples),
                        "shape_trees": shape is not None} if trees else None}
    _write(model_dir, out, mcfg, adapted, rooms, report, gate, trees[0] if trees else None, shape)
    after, _ = load_classifier(out)
    report["scores"] = _scores(before, after, eval_data, replay, room, where, mcfg, model_dir, rule, classes)
    report["adapt_time_s"] = round(time.time() - t0, 1)
    shutil.rmtree(out / "checkpoints", ignore_errors=True)
    write_json(out / REPORT, report)
    write_checksums(out)
    return report


def _prepare(out: Path, resume: bool, overwrite: bool) -> None:
    """A new adaptation needs a free ``out`` (or ``overwrite``); ``resume`` needs its checkpoints."""
    if resume:
        if not (out / "checkpoints").is_dir():
            raise ActlineError(out, "nothing to resume (no checkpoints: the adaptation finished or never started)")
        return
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise ActlineError(out, "holds files: use --overwrite to replace them, or --resume to continue")
        shutil.rmtree(out)


def _model_data(path, mcfg: dict, model_dir: Path) -> ClipDataset:
    """The data set at ``path`` as the model sees it: its ``background_class`` added, the model's class indices."""
    rule = WindowRule.from_dict(mcfg["window"], model_dir / CONFIG)
    bg = (mcfg.get("training") or {}).get("background_class")
    return _with_classes(add_background_class(load_dataset(path), bg, rule), list(mcfg["classes"]), path)


def _with_classes(ds: ClipDataset, classes: list[str], where) -> ClipDataset:
    """``ds`` with its samples relabelled to the model's class indices; a class the model lacks is refused."""
    unknown = sorted({ds.classes[s.label] for s in ds.samples} - set(classes))
    if unknown:
        raise ActlineError(where, f"classes {unknown} are not classes of the model ({', '.join(classes)})")
    if not ds.samples:
        raise ActlineError(where, "no labelled windows: label the room's recordings first (actline label)")
    from dataclasses import replace

    ds.samples = [replace(s, label=classes.index(ds.classes[s.label])) for s in ds.samples]
    ds.classes = list(classes)
    return ds


def _training_pool(replay, mcfg: dict, model_dir: Path, where: list[str]) -> tuple[ClipDataset | None, list]:
    """(``replay`` as the model sees it, the samples of its training part outside the room's locations)."""
    if replay is None:
        return None, []
    old = _model_data(replay, mcfg, model_dir)
    return old, [s for s in _old_part(old, mcfg, model_dir, "train") if old.recordings[s.recording_id].group not in where]


def _windows(room: ClipDataset, rule: WindowRule, old: ClipDataset | None, pool: list,
             cfg: AdaptConfig) -> tuple[np.ndarray, np.ndarray, int]:
    """(windows, labels, how many are replayed): the room's windows, and ``cfg.replay`` times as many drawn from
    ``pool`` (the training part of the replayed data, never the room's locations)."""
    x, y = WindowBank(room).get(room.samples, rule), room.labels()
    if old is None or cfg.replay <= 0:
        return x, y, 0
    rng = np.random.default_rng(cfg.seed)
    pick = rng.choice(len(pool), size=min(len(pool), int(round(cfg.replay * len(y)))), replace=False) if pool else []
    chosen = [pool[i] for i in sorted(pick)]
    if not chosen:
        return x, y, 0
    return np.concatenate([x, WindowBank(old).get(chosen, rule)]), np.concatenate([y, old.labels(chosen)]), len(chosen)


def _old_part(ds: ClipDataset, mcfg: dict, model_dir: Path, side: str) -> list:
    """The model's own training data: the ``side`` ("train" or "eval") of its run's split; other data: all of it
    for replay, none for scoring (it cannot say what the model has not seen)."""
    run = model_dir.parent
    if fingerprint(ds) != mcfg.get("data_fingerprint"):
        return list(ds.samples) if side == "train" else []
    try:
        ids = set(read_split(run)[side]["samples"])
    except (ActlineError, OSError, KeyError, TypeError, ValueError):
        held = set((mcfg.get("split") or {}).get("eval_recordings") or [])
        return [s for s in ds.samples if (s.recording_id in held) == (side == "eval")]
    return [s for s in ds.samples if (s.id or f"{s.recording_id}:{s.frame_idx}") in ids]


def _write(model_dir: Path, out: Path, mcfg: dict, adapted, rooms: np.ndarray, report: dict, gate,
           trees=None, shape=None) -> None:
    """``model_dir`` copied to ``out`` with the adapted weights, the room among ``gate``'s known rooms (the source
    model's room gate, or None; taught, with ``trees`` and ``shape`` trees refit), and ``adapted`` in its config;
    its own exports, made from the old weights, are left out."""
    with atomic_dir(out, overwrite=True) as tmp:
        shutil.copytree(model_dir, tmp, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(ONNX, "fallback.onnx", CHECKSUMS, "checkpoints", "*.int8.*"))
        weights_writer(adapted)(tmp / WEIGHTS)
        cfg = {k: v for k, v in mcfg.items() if k not in ("format", "_source")}
        if gate is not None:  # the room is known from now on: the adapted CNN answers there, with refit trees
            known = gate.known.adding(rooms)
            rooms_writer(known)(tmp / ROOMS)
            taught = gate.taught + (list(range(len(gate.known), len(known))) if trees is not None else [])
            cfg["room_gate"] = {**cfg["room_gate"], "rooms": len(known), "measure": known.measure, "taught": taught}
            if trees is not None:
                (tmp / TREES).write_bytes(trees.blob)
            if shape is not None:
                (tmp / SHAPE).write_bytes(shape.blob)

        cfg["adapted"] = {"from": str(model_dir), "from_weights_sha256": mcfg.get("weights_sha256"), **report}
        cfg["weights_sha256"] = sha256_file(tmp / WEIGHTS)
        write_json(tmp / CONFIG, {"format": FORMAT, **cfg})
        write_checksums(tmp)


def _scores(before, after, eval_data, replay, room: ClipDataset, where: list[str], mcfg: dict, model_dir: Path,
            rule: WindowRule, classes: list[str]) -> dict:
    """Before and after, beside the baselines: the new room's other recordings (``eval_data``'s recordings of the
    room's locations, not the ones adapted on) and the old data's held-out part (``replay``, other rooms)."""
    out = {}
    if eval_data is not None:
        ds = _model_data(eval_data, mcfg, model_dir)
        samples = [s for s in ds.samples if ds.recordings[s.recording_id].group in where
                   and s.recording_id not in room.recordings]
        if not samples:
            raise ActlineError(eval_data, f"no labelled recording of {', '.join(where)} besides those adapted on")
        out["new_room"] = _before_after(before, after, ds, samples, mcfg, model_dir, rule)
    if replay is not None:
        ds = _model_data(replay, mcfg, model_dir)
        samples = [s for s in _old_part(ds, mcfg, model_dir, "eval") if ds.recordings[s.recording_id].group not in where]
        if samples:
            out["old_data"] = _before_after(before, after, ds, samples, mcfg, model_dir, rule)
    return out


def _before_after(before, after, ds: ClipDataset, samples: list, mcfg: dict, model_dir: Path, rule: WindowRule) -> dict:
    bank, k, y = WindowBank(ds), len(ds.classes), ds.labels(samples)
    wins, rooms = bank.get(samples, rule), recording_backgrounds(ds, [s.recording_id for s in samples])
    counts = np.asarray(mcfg.get("train_class_counts") or np.ones(k), dtype=np.int64)
    base = {"majority": bl.majority_probs(np.repeat(np.arange(k), counts), len(y), k), "chance": bl.chance_metrics(y, k)}
    classical = model_dir.parent / "baselines" / "classical"
    if classical.is_dir():
        cl, ccfg = load_classifier(classical)
        base["classical"] = cl.probs(bank.get(samples, WindowRule.from_dict(ccfg["window"], classical)))
    res = {}
    for name, clf in (("before", before), ("after", after)):
        prob = clf.probs(wins, rooms)
        m = evaluate_with_baselines(y, prob, ds.classes, base)
        res[name] = {key: m[key] for key in ("top1", "mean_class_accuracy", "macro_f1", "n", "per_class")}
        res[name]["confusion"] = confusion(y, prob, k).tolist()  # rows: true class, columns: predicted
        res.setdefault("baselines", m["baselines"])
    res["recordings"] = sorted({s.recording_id for s in samples})
    return json.loads(json.dumps(res, default=float))
