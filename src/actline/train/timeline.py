"""``actline train-timeline``: the two-stage timeline model from a folder of labelled clips.

Stage 1 learns coarse families over chunk features with a temporal model; since each clip holds one
action, training sequences chain several random clips (``chain``), so the temporal model sees
transitions the way it will in a long video (``chain=0`` trains on single clips, as the seed did).
Stage 2 learns one fine classifier per family with two or more fine labels. A held-out part of the
clips (stratified by fine label) picks the best epoch and gives the figures the run reports, beside
the majority and chance baselines; nothing is reported on training clips.

Written::

    OUT/config.json                 pipeline "timeline": features, label rule, classes, decoding
    OUT/backbone/                   the frozen feature extractor (so inference needs no download)
    OUT/stage1/                     model.safetensors, config.json, label_map.json
    OUT/stage2/stage2_registry.json families -> fine labels, model dir or direct mapping
    OUT/stage2/<family>/            model.safetensors, config.json, label_map.json
    OUT/metrics.json, OUT/history.json, OUT/train_config.yaml
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import yaml

from actline.core.atomic import atomic_dir, write_json, write_text
from actline.core.errors import ActlineError
from actline.core.progress import progress_bar
from actline.data.clips import Clip, LabelRule, find_clips, label_summary
from actline.data.video import VideoSpec
from actline.features.backbone import Backbone, build_backbone, save_backbone_dir
from actline.features.cache import FeatureCache, default_cache_dir
from actline.modeldir.directory import FORMAT, save_model_dir, write_checksums
from actline.models import create_model
from actline.models.temporal import predict_sequence
from actline.train.sequence import Seq, fit_sequences

PIPELINE = "timeline"


@dataclass
class TimelineConfig:
    temporal_model: str = "ms_tcn"  # or temporal_mlp (the seed's)
    temporal_args: dict = field(default_factory=dict)  # e.g. {stages: 4, layers: 10, channels: 64}
    backbone: str = "r3d_18"  # torchvision video model, registered model, or a trained actline model dir
    weights: str | None = "KINETICS400_V1"  # enum name, DEFAULT, local .pth, or none (random)
    fps: float = 8.0
    size: int = 112
    chunk: int = 16
    stride: int = 16
    separator: str = "_"
    coarse_token: int = 0
    epochs: int = 40  # stage 1
    stage2_epochs: int = 50
    batch_size: int = 4
    lr: float = 1e-3
    weight_decay: float = 1e-4
    fixed_length: int | None = None  # the seed's 64 chunks (pad/crop); None: variable length with masks
    chain: int = 6  # clips chained per training sequence; 0: one clip per sequence
    sequences_per_epoch: int = 32
    val_fraction: float = 0.25
    patience: int = 10
    smooth_weight: float = 0.15
    seed: int = 0
    num_threads: int = 0
    cache_dir: str | None = None  # default: $XDG_CACHE_HOME/actline/features
    background_class: str | None = "none"  # recordings with frame labels: the class of unannotated frames
    # decoding at inference (saved with the model; `actline timeline` can override)
    median: int = 3  # median filter over this many steps (1 = off)
    switch_penalty: float = 2.0  # Viterbi cost of a label change, in nats (0 = off)
    min_segment_s: float = 2.0  # shorter segments merge into a neighbour

    def validate(self) -> "TimelineConfig":
        checks = [(self.fps > 0, "fps must be > 0"), (self.size > 0, "size must be > 0"),
                  (self.chunk > 0 and self.stride > 0, "chunk and stride must be > 0"),
                  (0 <= self.val_fraction < 1, "val_fraction must be in [0, 1)"),
                  (self.epochs > 0 and self.stage2_epochs >= 0, "epochs must be > 0"),
                  (self.median >= 1, "median must be >= 1"), (self.chain >= 0, "chain must be >= 0")]
        for ok, msg in checks:
            if not ok:
                raise ActlineError("config", msg)
        return self

    def spec(self) -> VideoSpec:
        return VideoSpec(self.fps, self.size, self.chunk, self.stride)

    def rule(self) -> LabelRule:
        return LabelRule(self.separator, self.coarse_token)


def stratified_holdout(labels: list[str], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices (train, held out): ``fraction`` of each label's clips, at least one where a label has 2+."""
    rng = np.random.default_rng(seed)
    train, held = [], []
    for lab in sorted(set(labels)):
        idx = [i for i, v in enumerate(labels) if v == lab]
        rng.shuffle(idx)
        n = int(round(len(idx) * fraction)) if fraction else 0
        n = min(max(n, 1 if fraction and len(idx) >= 2 else 0), len(idx) - 1)
        held += idx[:n]
        train += idx[n:]
    return sorted(train), sorted(held)


def chain_sampler(seqs: list[Seq], chain: int, n: int):
    """A function drawing ``n`` sequences of ``chain`` random clips each (no clip twice in a row)."""
    def draw(rng: np.random.Generator) -> list[Seq]:
        out = []
        for _ in range(n):
            picks, prev = [], -1
            for _ in range(chain):
                j = int(rng.integers(len(seqs)))
                if j == prev and len(seqs) > 1:
                    j = (j + 1) % len(seqs)
                picks.append(seqs[j])
                prev = j
            out.append((np.concatenate([x for x, _ in picks]), np.concatenate([y for _, y in picks])))
        return out
    return draw


def clip_vote_accuracy(model, seqs: list[Seq]) -> tuple[float, np.ndarray]:
    """Clip-level accuracy from the mean probability over each clip's steps; also the predictions."""
    preds = np.array([predict_sequence(model, x).mean(0).argmax() for x, _ in seqs])
    truth = np.array([int(y[0]) for _, y in seqs])
    return (100.0 * float((preds == truth).mean()) if len(seqs) else float("nan")), preds


def majority_accuracy(train_labels, eval_labels) -> float:
    if not len(eval_labels):
        return float("nan")
    top = Counter(train_labels).most_common(1)[0][0]
    return 100.0 * float(np.mean(np.asarray(eval_labels) == top))


def extract_clip_features(clips: list[Clip], backbone: Backbone, spec: VideoSpec, cache: FeatureCache,
                          progress=None) -> list[np.ndarray]:
    feats = []
    for c in clips:
        feats.append(cache.get(c.path, backbone, spec).x)
        if progress:
            progress(c)
    return feats


def train_timeline(clip_root: str | Path, out: str | Path, cfg: TimelineConfig, progress: bool = True,
                   log=print, backbone: Backbone | None = None) -> dict:
    t0 = time.time()
    cfg.validate()
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    clips = find_clips(clip_root, cfg.rule(), log=lambda m: log(f"warning: {m}"))
    summary = label_summary(clips)
    if len(summary["coarse"]) < 2:
        raise ActlineError(clip_root, f"need clips of at least two coarse families, found {list(summary['coarse'])}")
    backbone = backbone or build_backbone(cfg.backbone, cfg.weights, seed=cfg.seed)
    spec = cfg.spec()
    cache = FeatureCache(cfg.cache_dir or default_cache_dir())
    with progress_bar(progress) as bar:
        task = bar.add_task("features", total=len(clips)) if bar else None
        feats = extract_clip_features(clips, backbone, spec, cache,
                                      (lambda c: bar.advance(task)) if bar else None)
    log(f"features: {len(clips)} clips, {sum(len(f) for f in feats)} chunks of {backbone.dim}-D "
        f"({cache.hits} from cache, {cache.misses} computed, {cache.corrupt} corrupt entries recomputed)")

    coarse = sorted(summary["coarse"])
    fine_labels = [c.label.fine for c in clips]
    tr, ho = stratified_holdout(fine_labels, cfg.val_fraction, cfg.seed)
    seqs1 = [(f, np.full(len(f), coarse.index(c.label.coarse), np.int64)) for f, c in zip(feats, clips)]
    val_chain = chain_sampler([seqs1[i] for i in ho], max(cfg.chain, 1), max(8, len(ho)))(
        np.random.default_rng(cfg.seed + 1)) if ho else None
    train_src = chain_sampler([seqs1[i] for i in tr], cfg.chain, cfg.sequences_per_epoch) if cfg.chain else \
        [seqs1[i] for i in tr]
    torch.manual_seed(cfg.seed)
    model1 = create_model(cfg.temporal_model, num_classes=len(coarse), in_chans=backbone.dim, **cfg.temporal_args)
    with progress_bar(progress) as bar:
        task = bar.add_task("stage 1", total=cfg.epochs) if bar else None
        res1 = fit_sequences(model1, train_src, val_chain, cfg.epochs, cfg.lr, cfg.weight_decay, cfg.batch_size,
                             cfg.smooth_weight, cfg.patience, cfg.fixed_length, cfg.seed,
                             (lambda row: bar.advance(task)) if bar else None)
    held1 = [seqs1[i] for i in ho]
    acc1, pred1 = clip_vote_accuracy(res1.model, held1)
    metrics = {"held_out_clips": len(ho), "train_clips": len(tr), "best_epoch_stage1": res1.best_epoch,
               "stage1": {"clip_accuracy": acc1, "chained_step_accuracy": res1.history[res1.best_epoch - 1].get(
                   "val_step_accuracy") if ho else None,
                   "majority": majority_accuracy([int(seqs1[i][1][0]) for i in tr], [int(y[0]) for _, y in held1]),
                   "chance": 100.0 / len(coarse)}}

    # stage 2: one fine classifier per family with two or more fine labels
    families = summary["families"]
    registry, models2, hist2, fam_metrics = {}, {}, {}, {}
    fine_pred_ok = {i: None for i in ho}
    for fam, fines in families.items():
        if len(fines) < 2:
            registry[fam] = {"fine_labels": fines, "model": None, "direct": fines[0]}
            continue
        idx_tr = [i for i in tr if clips[i].label.coarse == fam]
        idx_ho = [i for i in ho if clips[i].label.coarse == fam]
        s2 = {i: (feats[i], np.full(len(feats[i]), fines.index(clips[i].label.fine), np.int64))
              for i in idx_tr + idx_ho}
        torch.manual_seed(cfg.seed)
        m2 = create_model("temporal_mlp", num_classes=len(fines), in_chans=backbone.dim)
        r2 = fit_sequences(m2, [s2[i] for i in idx_tr], [s2[i] for i in idx_ho] or None, cfg.stage2_epochs,
                           cfg.lr, cfg.weight_decay, cfg.batch_size, 0.0, cfg.patience, cfg.fixed_length, cfg.seed)
        models2[fam], hist2[fam] = r2.model, r2.history
        acc2, p2 = clip_vote_accuracy(r2.model, [s2[i] for i in idx_ho])
        for i, p in zip(idx_ho, p2):
            fine_pred_ok[i] = fines[int(p)]
        fam_metrics[fam] = {"fine_labels": len(fines), "train_clips": len(idx_tr), "held_out_clips": len(idx_ho),
                            "clip_accuracy": acc2, "best_epoch": r2.best_epoch,
                            "majority": majority_accuracy([int(s2[i][1][0]) for i in idx_tr],
                                                          [int(s2[i][1][0]) for i in idx_ho])}
        registry[fam] = {"fine_labels": fines, "model": f"stage2/{fam}", "direct": None}
    # two-stage fine accuracy on held-out clips: coarse right and fine right
    two = []
    for i, p in zip(ho, pred1):
        fam = coarse[int(p)]
        fine = registry[fam]["direct"] or _predict_fine(models2[fam], feats[i], registry[fam]["fine_labels"])
        two.append(fine == clips[i].label.fine)
    metrics["two_stage_fine_clip_accuracy"] = 100.0 * float(np.mean(two)) if two else None
    metrics["fine_majority"] = majority_accuracy([fine_labels[i] for i in tr], [fine_labels[i] for i in ho])
    metrics["fine_chance"] = 100.0 / len(summary["fine"])
    metrics["stage2"] = fam_metrics
    metrics["train_time_s"] = round(time.time() - t0, 1)
    metrics["note"] = ("held-out clips are whole files never trained on, but they may come from the same sessions "
                       "as training clips; judge timelines on long held-out videos with `actline timeline` + `score`")

    fine_to_value = {c.label.fine: c.label.value_category for c in clips}
    save_timeline_model(out, cfg, backbone, res1.model, coarse, registry, models2, fine_to_value, summary, metrics,
                        {"stage1": res1.history, "stage2": hist2})
    return metrics


def save_timeline_model(out, cfg: TimelineConfig, backbone: Backbone, stage1, coarse: list[str], registry: dict,
                        models2: dict, fine_to_value: dict, labels: dict, metrics: dict, history: dict) -> None:
    """Write the whole model directory at once (a temporary directory renamed into place)."""
    with atomic_dir(out, overwrite=True) as tmp:
        save_backbone_dir(tmp / "backbone", backbone)
        save_model_dir(tmp / "stage1", stage1, {"pipeline": "timeline-stage1", "arch": stage1.arch, "classes": coarse})
        write_json(tmp / "stage1" / "label_map.json", {c: i for i, c in enumerate(coarse)})
        for fam, m2 in models2.items():
            fines = registry[fam]["fine_labels"]
            save_model_dir(tmp / "stage2" / fam, m2, {"pipeline": "timeline-stage2", "arch": m2.arch, "classes": fines})
            write_json(tmp / "stage2" / fam / "label_map.json", {c: i for i, c in enumerate(fines)})
        write_json(tmp / "stage2" / "stage2_registry.json", registry)
        write_json(tmp / "config.json", {
            "format": FORMAT, "pipeline": PIPELINE, "classes": coarse, "fine_to_value": fine_to_value,
            "label_rule": cfg.rule().as_dict(),
            "features": {"backbone": cfg.backbone, "weights": cfg.weights, **backbone.config(), **cfg.spec().as_dict()},
            "decoding": {"median": cfg.median, "switch_penalty": cfg.switch_penalty, "min_segment_s": cfg.min_segment_s},
            "labels": labels, "metrics": metrics})
        write_json(tmp / "metrics.json", metrics)
        write_json(tmp / "history.json", history)
        write_text(tmp / "train_config.yaml", yaml.safe_dump(dataclasses.asdict(cfg), sort_keys=False))
        write_checksums(tmp)


def recording_sequences(ds, rec_ids: list[str], backbone: Backbone, spec: VideoSpec,
                        cache: FeatureCache | None = None) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per recording: chunk features [T, D], the label at each chunk's centre frame [T] (-1: none), times [T, 2]."""
    from actline.data.chunks import chunk_starts
    from actline.features.cache import extract

    out = {}
    for rid in rec_ids:
        rec = ds.recordings[rid]
        src = Path(rec.source) if rec.source else None
        feats = cache.get(src, backbone, spec) if cache is not None and src is not None and src.is_file() else \
            extract(rec, backbone, spec)
        centres = np.minimum(chunk_starts(rec.n_frames, spec.chunk, spec.stride) + spec.chunk // 2, rec.n_frames - 1)
        labels = rec.frame_labels[centres] if rec.frame_labels is not None else np.full(len(centres), -1)
        out[rid] = (feats.x, labels.astype(np.int64), feats.times)
    return out


def train_timeline_recordings(ds, out: str | Path, cfg: TimelineConfig, backbone: Backbone,
                              train_ids: list[str] | None = None, log=print, progress: bool = False) -> dict:
    """Stage 1 straight on long annotated recordings (frame-wise labels, e.g. Nagoya); no stage 2.

    An inner part of the training recordings (``val_fraction``, whole recordings) picks the epoch.
    Flat label sets map every class to itself in the stage-2 registry.
    """
    t0 = time.time()
    cfg.validate()
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    ids = sorted(train_ids if train_ids is not None else ds.recordings)
    if not any(ds.recordings[r].frame_labels is not None for r in ids):
        raise ActlineError(ds.root, "no recording has frame-wise labels: a timeline model needs annotated recordings "
                                    "(Nagoya-style segments) or a clip folder")
    if backbone.kind != "thermal":
        raise ActlineError(cfg.backbone, "thermal recordings need a thermal encoder: --backbone path/to/run/model")
    rng = np.random.default_rng(cfg.seed)
    n_val = int(round(len(ids) * cfg.val_fraction))
    val_ids = sorted(rng.choice(ids, size=n_val, replace=False).tolist()) if n_val else []
    tr_ids = [r for r in ids if r not in val_ids]
    cache = FeatureCache(cfg.cache_dir) if cfg.cache_dir else None
    seqs = recording_sequences(ds, ids, backbone, cfg.spec(), cache)
    tr = [(x, y) for r, (x, y, _) in seqs.items() if r in tr_ids]
    va = [(x, y) for r, (x, y, _) in seqs.items() if r in val_ids]
    torch.manual_seed(cfg.seed)
    model = create_model(cfg.temporal_model, num_classes=len(ds.classes), in_chans=backbone.dim, **cfg.temporal_args)
    with progress_bar(progress) as bar:
        task = bar.add_task("stage 1", total=cfg.epochs) if bar else None
        res = fit_sequences(model, tr, va or None, cfg.epochs, cfg.lr, cfg.weight_decay, cfg.batch_size,
                            cfg.smooth_weight, cfg.patience, cfg.fixed_length, cfg.seed,
                            (lambda row: bar.advance(task)) if bar else None)
    metrics = {"train_recordings": len(tr_ids), "inner_val_recordings": len(val_ids), "best_epoch_stage1": res.best_epoch,
               "inner_val_step_accuracy": res.history[res.best_epoch - 1].get("val_step_accuracy") if va else None,
               "train_time_s": round(time.time() - t0, 1)}
    registry = {c: {"fine_labels": [c], "model": None, "direct": c} for c in ds.classes}
    save_timeline_model(out, cfg, backbone, res.model, list(ds.classes), registry, {}, {}, {"classes": ds.classes},
                        metrics, {"stage1": res.history})
    return metrics


def _predict_fine(model, x: np.ndarray, fines: list[str]) -> str:
    return fines[int(predict_sequence(model, x).mean(0).argmax())]
