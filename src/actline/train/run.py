"""``actline train``: split, train (one or several seeds), evaluate with baselines, save the run.

A run directory holds ``config.yaml`` (the resolved config), ``metrics.json``, ``history.json``,
``curves.png``, ``confusion.png`` and ``model/`` (``model.safetensors`` + ``config.json``).
The best epoch is picked on an inner validation part of the training data (whole recordings);
the evaluation part of the split is touched once, at the end.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from actline.atomic import write_json, write_text
from actline.checkpoint import save_model_dir
from actline.data import ClipDataset, WindowSpec, load_dataset
from actline.data.splits import Split, make_split
from actline.errors import ActlineError
from actline.evaluate import baselines as bl
from actline.evaluate.classification import bootstrap_ci, confusion, per_class, plot_confusion, summary_metrics
from actline.models import create_model
from actline.progress import progress_bar
from actline.train.config import TrainConfig
from actline.train.loop import fit, pick_device, predict_probs

PIPELINE = "clip-classifier"


def window_spec(cfg: TrainConfig, extra: int = 0) -> WindowSpec:
    return WindowSpec(length=cfg.window + 2 * extra, mode=cfg.window_mode, fps=cfg.window_fps)


def build_windows(ds: ClipDataset, samples, spec: WindowSpec, background: str = "none") -> torch.Tensor:
    """[N, 1, T, H, W] float32 °C with sentinels filled (and the background removed if asked)."""
    if not samples:
        return torch.zeros((0, 1, spec.length, 1, 1))
    return torch.from_numpy(np.stack([ds.window(s, spec, background=background) for s in samples]))[:, None]


def fingerprint(ds: ClipDataset) -> str:
    h = hashlib.sha256()
    for rid in sorted(ds.recordings):
        r = ds.recordings[rid]
        h.update(f"{rid}:{r.n_frames}:{r.timestamps[0]:.3f}:{r.timestamps[-1]:.3f}:{float(r.frames.sum()):.3f}".encode())
    for s in ds.samples:
        h.update(f"{s.recording_id}:{s.frame_idx}:{s.label}:{s.subset}".encode())
    return h.hexdigest()[:16]


def make_model(cfg: TrainConfig, n_classes: int, in_chans: int = 1):
    kwargs = dict(cfg.model_kwargs)
    if cfg.pretrained and cfg.model in ("r3d_18", "r2plus1d_18", "mc3_18", "s3d"):
        kwargs["weights"] = cfg.pretrained
    model = create_model(cfg.model, num_classes=n_classes, in_chans=in_chans, **kwargs)
    if cfg.pretrained and cfg.model.startswith("slowfast"):
        from actline.models.import_checkpoint import load_foreign_checkpoint
        from actline.models.slowfast import load_slowfast_checkpoint

        fmt = cfg.pretrained_format or ("pytorchvideo" if cfg.model.endswith("_ptv") else "mmaction")
        load_slowfast_checkpoint(model, load_foreign_checkpoint(cfg.pretrained), fmt, cfg.pretrained)
    return model


def inner_split(ds: ClipDataset, train, cfg: TrainConfig, seed: int):
    """Hold out whole recordings of the training part to pick the best epoch."""
    from sklearn.model_selection import GroupShuffleSplit

    groups = ds.groups(train, by=cfg.group_by)
    if cfg.inner_val_fraction <= 0 or len(set(groups.tolist())) < 3:
        return list(train), []
    tr, va = next(GroupShuffleSplit(n_splits=1, test_size=cfg.inner_val_fraction, random_state=seed)
                  .split(np.zeros(len(train)), groups=groups))
    return [train[i] for i in tr], [train[i] for i in va]


def evaluate_with_baselines(ds: ClipDataset, split: Split, prob: np.ndarray, cfg: TrainConfig,
                            seed: int = 0) -> dict:
    """The model's figures with 95% intervals, per class, and the baselines on the same split."""
    k = len(ds.classes)
    y_tr, y_ev = ds.labels(split.train), ds.labels(split.eval)
    spec = window_spec(cfg)
    metrics = {**{key: round(v, 2) for key, v in summary_metrics(y_ev, prob).items()}, "n": int(len(y_ev))}
    metrics["ci95"] = bootstrap_ci(y_ev, prob, seed=seed)
    metrics["per_class"] = per_class(y_ev, prob, ds.classes)
    base = {"majority": summary_metrics(y_ev, bl.majority_probs(y_tr, len(y_ev), k)),
            "chance": bl.chance_metrics(y_ev, k, seed=seed)}
    # the classical baseline always works on background-subtracted frames, as a practitioner would
    f_tr = np.stack([bl.window_features(ds.window(s, spec, background="recording-median")) for s in split.train])
    f_ev = np.stack([bl.window_features(ds.window(s, spec, background="recording-median")) for s in split.eval])
    which, clf, inner = bl.fit_classical(f_tr, y_tr, ds.groups(split.train, by=cfg.group_by), k, seed)
    base["classical"] = {**summary_metrics(y_ev, bl.classical_probs(clf, f_ev, k)), "model": which,
                         "inner_val_macro_f1": {n: round(v, 2) for n, v in inner.items()}}
    if split.overlapping_eval:
        tr_t = [(s.recording_id, float(ds.recordings[s.recording_id].timestamps[s.frame_idx]), s.label)
                for s in split.train]
        ev_t = [(s.recording_id, float(ds.recordings[s.recording_id].timestamps[s.frame_idx])) for s in split.eval]
        base["nearest_in_time"] = summary_metrics(y_ev, bl.nearest_in_time_probs(tr_t, ev_t, y_tr, k))
    metrics["baselines"] = {name: {kk: (round(v, 2) if isinstance(v, float) else v) for kk, v in b.items()}
                            for name, b in base.items()}
    metrics["split"] = {**split.summary(), "warning": split.warning}
    return metrics


def train_run(data: str | Path | ClipDataset, out: str | Path, cfg: TrainConfig, progress: bool = True,
              log=print, resume: bool = False) -> dict:
    """Split, train (one model per seed), evaluate beside baselines, and write the run directory.

    Every epoch leaves a checkpoint in ``out/checkpoints/``; ``resume=True`` continues from them
    (a fresh run clears them). They are removed when the run has been written completely.
    """
    t_start = time.time()
    cfg.validate()
    out = Path(out)
    dist = torch.distributed.is_available() and torch.distributed.is_initialized()
    main_rank = not dist or torch.distributed.get_rank() == 0
    if not main_rank:  # other ranks train their shards and write nothing
        log = lambda *_: None  # noqa: E731
        progress = False
    if resume and (out / "metrics.json").is_file():
        raise ActlineError(out, "this run has finished (metrics.json exists); there is nothing to resume")
    if not resume and main_rank:
        shutil.rmtree(out / "checkpoints", ignore_errors=True)
    if dist:
        torch.distributed.barrier()
    ds = data if isinstance(data, ClipDataset) else load_dataset(data)
    if main_rank:
        out.mkdir(parents=True, exist_ok=True)
        write_text(out / "config.yaml", yaml.safe_dump(_plain(cfg.to_dict()), sort_keys=False))
        write_json(out / "run.json", {"data": str(ds.root), "data_format": ds.format})  # what --resume needs
    for w in ds.warnings:
        log(f"warning: {w}")
    split = make_split(ds, cfg.split, spec=window_spec(cfg), fold=cfg.fold, n_folds=cfg.n_folds, seed=cfg.seed,
                       group_by=cfg.group_by)
    if split.warning:
        log(split.warning)
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    k = len(ds.classes)
    jitter = cfg.augment.temporal_jitter if cfg.window_mode == "index" else 0
    x_ev = build_windows(ds, split.eval, window_spec(cfg), cfg.background)
    members, histories = [], []
    for i in range(cfg.seeds):
        seed = cfg.seed + i
        tr, va = inner_split(ds, split.train, cfg, seed)
        x_tr = build_windows(ds, tr, window_spec(cfg, jitter), cfg.background)
        x_va = build_windows(ds, va, window_spec(cfg), cfg.background) if va else None
        torch.manual_seed(seed)  # the initial weights are part of what a seed fixes
        model = make_model(cfg, k)
        with progress_bar(progress) as bar:
            res = fit(model, x_tr, ds.labels(tr), x_va, ds.labels(va) if va else None, cfg, k, seed, bar,
                      checkpoint=out / "checkpoints" / f"seed{seed}")
        members.append(res.model)
        histories.append({"seed": seed, "best_epoch": res.best_epoch, "stopped_early": res.stopped_early,
                          "inner_val": {"windows": len(va), "recordings": sorted({s.recording_id for s in va})},
                          "history": res.history})
    if not main_rank:
        return {}
    # rank 0 evaluates the whole evaluation set (never one rank's shard) and writes the run
    model = members[0] if len(members) == 1 else create_model(
        "ensemble", num_classes=k, in_chans=1, member=members[0].arch, n=len(members))
    if len(members) > 1:
        for slot, m in zip(model.members, members):
            slot.load_state_dict(m.state_dict())
    model.eval()
    prob = predict_probs(model, x_ev, cfg.window, device=pick_device(cfg.device))
    metrics = evaluate_with_baselines(ds, split, prob, cfg, seed=cfg.seed)
    metrics.update({"model": cfg.model, "seeds": cfg.seeds, "data": str(ds.root), "data_format": ds.format,
                    "selection": "best epoch on an inner validation part of the training data (whole recordings)"
                    if histories[0]["inner_val"]["windows"] else "last epoch (too few recordings for inner validation)",
                    "best_epochs": [h["best_epoch"] for h in histories], "train_time_s": round(time.time() - t_start, 1)})
    write_json(out / "history.json", histories)
    model_config = {
        "pipeline": PIPELINE, "arch": _plain(model.arch), "classes": ds.classes,
        "window": {"length": cfg.window, "mode": cfg.window_mode, "fps": cfg.window_fps,
                   "background": cfg.background},
        "preprocessing": {"input": "[B, 1, T, H, W] float32 °C; sentinels (<= -100 °C) filled with the frame median",
                          "frame_shape": list(x_ev.shape[-2:]) if len(x_ev) else None,
                          "normalisation": "inside the model (ThermalNorm) for thermal models"},
        "training": _plain(cfg.to_dict()), "data_fingerprint": fingerprint(ds),
        "metrics": {k2: metrics[k2] for k2 in ("top1", "top5", "mean_class_accuracy", "macro_f1", "n")},
        "split": metrics["split"]["name"],
    }
    save_model_dir(out / "model", model, model_config)
    write_json(out / "metrics.json", metrics)
    write_predictions(out / "predictions.csv", ds, split.eval, prob)
    plot_confusion(confusion(ds.labels(split.eval), prob, k), ds.classes, out / "confusion.png",
                   title=f"{cfg.model} on {split.name} evaluation windows (n={len(split.eval)})")
    plot_curves(histories, out / "curves.png")
    shutil.rmtree(out / "checkpoints", ignore_errors=True)  # the run is complete: nothing left to resume
    return metrics


def write_predictions(path: Path, ds: ClipDataset, samples, prob: np.ndarray) -> None:
    """One row per evaluation window: id, recording, frame, true class, predicted class, confidence."""
    rows = ["sample_id,recording_id,frame_idx,true,pred,confidence"]
    for s, p in zip(samples, prob):
        k = int(p.argmax())
        rows.append(f'"{s.id}","{s.recording_id}",{s.frame_idx},"{ds.classes[s.label]}","{ds.classes[k]}",{p[k]:.4f}')
    write_text(path, "\n".join(rows) + "\n")


def plot_curves(histories: list[dict], path: Path) -> None:
    from actline.plotting import pyplot, save_figure

    plt = pyplot()

    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
    for h in histories:
        ep = [r["epoch"] for r in h["history"]]
        a.plot(ep, [r["train_loss"] for r in h["history"]], label=f"train (seed {h['seed']})")
        if "val_loss" in h["history"][0]:
            a.plot(ep, [r["val_loss"] for r in h["history"]], "--", label=f"inner val (seed {h['seed']})")
            b.plot(ep, [r["val_macro_f1"] for r in h["history"]], label=f"macro-F1 (seed {h['seed']})")
            b.plot(ep, [r["val_mean_class_accuracy"] for r in h["history"]], ":", label=f"mean class acc (seed {h['seed']})")
            b.axvline(h["best_epoch"], color="gray", lw=0.5)
    a.set_xlabel("epoch"), a.set_ylabel("loss"), a.legend(fontsize=7)
    b.set_xlabel("epoch"), b.set_ylabel("% on inner validation")
    if b.lines:
        b.legend(fontsize=7)
    else:
        b.text(0.5, 0.5, "no inner validation\n(inner_val_fraction=0: fixed schedule, last epoch)",
               ha="center", va="center", transform=b.transAxes, fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def _plain(obj):
    return json.loads(json.dumps(obj, default=lambda o: list(o) if isinstance(o, tuple) else str(o)))


def evaluate_model_dir(model_dir: str | Path, data: str | Path, split_name: str | None = None) -> dict:
    """Re-evaluate a saved model on a data set with the split it was trained with (or another)."""
    from actline.checkpoint import load_model_dir
    from actline.train.config import apply

    model, mcfg = load_model_dir(model_dir, pipeline=PIPELINE)
    cfg = apply(TrainConfig(), {k: v for k, v in mcfg["training"].items()}, str(model_dir))
    if split_name:
        cfg.split = split_name
    ds = load_dataset(data)
    if ds.classes != mcfg["classes"]:
        raise ActlineError(data, f"classes differ from the model's ({len(ds.classes)} vs {len(mcfg['classes'])})")
    split = make_split(ds, cfg.split, spec=window_spec(cfg), fold=cfg.fold, n_folds=cfg.n_folds, seed=cfg.seed,
                       group_by=cfg.group_by)
    prob = predict_probs(model, build_windows(ds, split.eval, window_spec(cfg), cfg.background), cfg.window)
    return evaluate_with_baselines(ds, split, prob, cfg, seed=cfg.seed)
