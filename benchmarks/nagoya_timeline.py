"""Leave-one-day-out timelines on the Nagoya FIR 16x16 sequences (../shared/data/nagoya-fir16).

Run: .venv/bin/python benchmarks/nagoya_timeline.py [--epochs 30] [--out runs/nagoya-timeline] [--folds 0]

Per fold (two days train, the third is scored):
1. a thermal clip classifier (thermal_r2plus1d, 16-frame windows, classes = the 8 actions + "none"
   for frames outside every annotated segment) is trained on the two days: it is also the encoder;
2. every recording becomes a sequence of encoder features, one per 16-frame chunk every 2 frames;
3. on the training days' sequences: the earlier system's per-timestep MLP and a multi-stage TCN (the timeline
   pipeline's stage 1, saved as a timeline model directory that `actline timeline` runs);
4. timelines of the held-out day, scored frame-wise against the annotation: accuracy over annotated
   frames only; Edit and F1@{10,25,50} with "none" as background (as the reference does).

Rows: the clip classifier sliding over the recording (no temporal model), the MLP, the MS-TCN (argmax),
and the MS-TCN with the pipeline's smoothing (median, Viterbi, minimum duration).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from actline.data.nagoya import read_nagoya
from actline.data.segments import segments_to_frames, steps_to_frames
from actline.features.backbone import build_backbone
from actline.features.cache import FeatureCache
from actline.features.extract import Features
from actline.infer.timeline_pipeline import TimelinePipeline
from actline.metrics.segmentation import SegmentationScores
from actline.runs.clip_run import train_run
from actline.runs.rundir import read_split
from actline.runs.timeline_run import train_timeline
from actline.train.config import load_config
from actline.train.timeline_data import recording_sequences
from actline.train.timeline_fit import TimelineConfig

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "nagoya-fir16"
ROWS = ("clip classifier, sliding", "per-timestep MLP (earlier system)", "MS-TCN", "MS-TCN + smoothing")
BG = "none"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--epochs", type=int, default=30, help="encoder (clip classifier) epochs")
    ap.add_argument("--temporal-epochs", type=int, default=60)
    ap.add_argument("--stride", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2, help="torch threads (1 when another job shares the cores)")
    ap.add_argument("--out", type=Path, default=Path("runs/nagoya-timeline"))
    ap.add_argument("--folds", type=str, default=None, help="only these folds (comma-separated), e.g. 0 for a quick check")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ds = read_nagoya(args.data, window=16, stride=8, unlabelled=BG)
    days = sorted({r.group for r in ds.recordings.values()})
    print(f"Nagoya FIR 16x16: {len(ds.recordings)} recordings, days {days}, classes {ds.classes}")
    scores = {r: SegmentationScores() for r in ROWS}
    per_day = {}
    t_start = time.time()
    for fold in [int(f) for f in args.folds.split(",")] if args.folds else range(len(days)):
        day, day_scores, top1, best_epoch = run_fold(ds, fold, len(days), args, scores)
        per_day[day] = {r: _summary(s.aggregate()) for r, s in day_scores.items()}
        per_day[day]["clip classifier windows top-1"] = top1
        print(f"day {day} (MS-TCN best epoch {best_epoch}):")
        for r in ROWS:
            print(f"  {r:28s} " + "  ".join(f"{k} {v:5.1f}" for k, v in per_day[day][r].items()), flush=True)
    overall = {r: _summary(s.aggregate()) for r, s in scores.items()}
    print(f"all days ({len(ds.recordings)} recordings):")
    for r in ROWS:
        print(f"  {r:28s} " + "  ".join(f"{k} {v:5.1f}" for k, v in overall[r].items()))
    print(f"total time {time.time() - t_start:.0f} s")
    print("\n| day | model | frame acc (annotated) | Edit | F1@10 | F1@25 | F1@50 |\n|---|---|---|---|---|---|---|")
    for day, rows in [*per_day.items(), ("all", overall)]:
        for r in ROWS:
            v = rows[r]
            print(f"| {day} | {r} | {v['acc']:.1f} | {v['edit']:.1f} | {v['F1@10']:.1f} | {v['F1@25']:.1f} | {v['F1@50']:.1f} |")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps({"per_day": per_day, "overall": overall}, indent=1))


def run_fold(ds, fold: int, n_folds: int, args, scores: dict):
    """Train the encoder and both temporal models on two days; score the held-out day into ``scores`` (all days)
    and into the day's own scores, which are returned with the day, the encoder's top-1 and MS-TCN's best epoch."""
    run = args.out / f"fold{fold}"
    # the encoder's recipe of the published table, pinned (the defaults have moved since: tempered class weights,
    # the rare-class guard and a static-heat background for 16x16 sensors)
    ccfg = load_config(None, ["model=thermal_r2plus1d", "window.length=16", f"epochs={args.epochs}", "split=kfold",
                              f"fold={fold}", f"n_folds={n_folds}", "group_by=location", "batch_size=32",
                              "window.background=recording-median", "class_weight_power=1.0", "rare_class_min=0", "prior_power=0"])
    m = train_run(ds, run / "encoder", ccfg, overwrite=True)
    (day,) = read_split(run / "encoder")["eval"]["locations"]  # one whole day held out
    train_ids = sorted(r for r, rec in ds.recordings.items() if rec.group != day)
    test_ids = sorted(r for r, rec in ds.recordings.items() if rec.group == day)
    enc = build_backbone(str(run / "encoder" / "model"))
    tcfg = TimelineConfig(backbone=str(run / "encoder" / "model"), weights=None, chunk=16, stride=args.stride,
                          epochs=args.temporal_epochs, val_fraction=0.15, patience=15, median=5,
                          switch_penalty=3.0, min_segment_s=0.5, cache_dir=str(run / "cache"))
    tm_metrics = train_timeline(ds, run / "timeline-mstcn", tcfg, enc, train_ids, overwrite=True)
    mlp_cfg = TimelineConfig(**{**tcfg.__dict__, "temporal_model": "temporal_mlp"})
    train_timeline(ds, run / "timeline-mlp", mlp_cfg, enc, train_ids, overwrite=True)
    tm, mlp = TimelinePipeline.load(run / "timeline-mstcn"), TimelinePipeline.load(run / "timeline-mlp")
    seqs = recording_sequences(ds, test_ids, enc, tcfg.spec(), FeatureCache(tcfg.cache_dir))
    day_scores = {r: SegmentationScores() for r in ROWS}
    for rid in test_ids:
        rec = ds.recordings[rid]
        gt = np.array(ds.classes)[rec.frame_labels]
        for row, pred in frame_predictions(seqs[rid], rec, enc.model.fc, tm, mlp, ds.classes).items():
            for sc in (scores[row], day_scores[row]):
                sc.add(rid, pred, gt, bg=(BG,))
    return day, day_scores, m["top1"], tm_metrics["best_epoch_stage1"]


def frame_predictions(seq, rec, fc, tm, mlp, classes) -> dict:
    """One label per frame of ``rec`` from each row's model, through the library's one frame mapping."""
    x, _, times = seq
    frame_t = rec.timestamps - rec.timestamps[0]  # each frame's instant
    with torch.no_grad():
        clip_prob = torch.softmax(fc(torch.from_numpy(x)), 1).numpy()
    preds = {r: steps_to_frames(lab, times, frame_t, classes) for r, lab in
             ((ROWS[0], clip_prob.argmax(1)), (ROWS[1], mlp.backend.stage1(x).argmax(1)),
              (ROWS[2], tm.backend.stage1(x).argmax(1)))}
    segs, _ = tm.timeline(Features(x, times))  # what `actline timeline M recording --format frames` writes
    preds[ROWS[3]] = segments_to_frames(segs, times=frame_t)
    return preds


def _summary(a: dict) -> dict:
    return {"acc": a["acc_fg"], "edit": a["edit_mean"], "F1@10": a["f1@0.1"], "F1@25": a["f1@0.25"],
            "F1@50": a["f1@0.5"]}


if __name__ == "__main__":
    main()
