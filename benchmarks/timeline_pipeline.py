"""Throughput of the timeline pipeline: decode-only, model-only and end-to-end, as real-time factors.

Run: .venv/bin/python benchmarks/timeline_pipeline.py [--minutes 10] [--backbone r3d_18] [--threads 2]
     [--precision fp32|bf16|auto]

A synthetic video (--minutes long, 320x240 at 15 fps, written once into --work) is turned into a
timeline three ways in one process:
- decode-only: PyAV decoding, resampling to 8 fps, resize and crop to 112, 16-frame chunks;
- model-only: the backbone (random weights: the same compute as Kinetics weights) and an MS-TCN on
  chunks already in memory, in --precision and, for the ratio, in float32 (the same chunks, same process);
- end-to-end: `extract` (decoding in a worker thread, ahead of the model) plus the temporal model.
A real-time factor of 10 means ten minutes of video in one minute. The pipeline is doing its job
when end-to-end reaches at least 90% of the slower of decode-only and model-only.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from actline.data.synth.assembly_video import RGBSynthConfig, generate_rgb_dataset
from actline.data.video import VideoSpec, probe, video_chunks
from actline.features.backbone import build_backbone
from actline.features.extract import extract
from actline.models import create_model
from actline.models.temporal import predict_sequence


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--backbone", default="r3d_18")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", type=Path, default=Path("runs/bench-timeline"))
    ap.add_argument("--precision", default="fp32", choices=["auto", "fp32", "bf16"])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    video = args.work / "long" / "video_00.mp4"
    if not video.is_file() or abs(probe(video).duration_s - args.minutes * 60) > 1:
        print(f"rendering a {args.minutes:g}-minute synthetic video into {args.work} ...", flush=True)
        generate_rgb_dataset(args.work, RGBSynthConfig(clips_per_action=0, long_videos=1,
                                                       long_seconds=args.minutes * 60, height=240, width=320),
                             overwrite=True)
    info = probe(video)
    spec = VideoSpec()
    bb = build_backbone(args.backbone, None, precision=args.precision)
    tcn = create_model("ms_tcn", num_classes=7, in_chans=bb.dim).eval()
    print(f"{video}: {info.duration_s:.0f} s, {info.width}x{info.height} at {info.fps:g} fps ({info.codec}); "
          f"backbone {args.backbone} ({bb.dim}-D, {bb.effective_precision}), {args.threads} torch threads, "
          f"spec {spec.as_dict()}")

    t = time.perf_counter()
    chunks = [c for _, _, c in video_chunks(video, spec)]
    t_decode = time.perf_counter() - t

    def model_only(backbone, chunks: list) -> tuple[float, np.ndarray]:
        t = time.perf_counter()
        feats = np.concatenate([backbone(np.stack(chunks[i:i + 8])) for i in range(0, len(chunks), 8)])
        predict_sequence(tcn, feats)
        return time.perf_counter() - t, feats

    t_model, feats = model_only(bb, chunks)
    if bb.effective_precision != "fp32":
        fp32 = build_backbone(args.backbone, None, precision="fp32")
        t_fp32, ref = model_only(fp32, chunks)
        rel = np.linalg.norm(feats - ref, axis=1) / np.linalg.norm(ref, axis=1)
        print(f"model-only in {bb.effective_precision}: {t_fp32 / t_model:.2f}x the speed of float32 "
              f"({t_model:.1f} s against {t_fp32:.1f} s); features within {100 * rel.max():.2f} % of float32 "
              f"(median {100 * np.median(rel):.2f} %)")
    del chunks

    t = time.perf_counter()
    f = extract(video, bb, spec)
    predict_sequence(tcn, f.x)
    t_e2e = time.perf_counter() - t

    dur = info.duration_s
    slower = max(t_decode, t_model)
    print(f"{len(feats)} chunks of {spec.chunk} frames")
    print(f"{'stage':<14}{'wall s':>9}{'real-time factor':>18}")
    for name, s in (("decode-only", t_decode), ("model-only", t_model), ("end-to-end", t_e2e)):
        print(f"{name:<14}{s:>9.1f}{dur / s:>17.1f}x")
    print(f"end-to-end throughput = {100 * slower / t_e2e:.0f}% of the slower stage "
          f"({'decode' if t_decode > t_model else 'model'}); target >= 90%")


if __name__ == "__main__":
    main()
