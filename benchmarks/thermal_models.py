"""Params, FLOPs and CPU latency of the thermal models against the earlier SlowFast R50 set-up.

Run: .venv/bin/python benchmarks/thermal_models.py [--threads 2] [--repeats 5] [--quick]

FLOPs are counted with torch.utils.flop_counter on the meta device (multiply-add = 2 FLOPs).
Latency is the median of --repeats forward passes (after one warm-up) in eval mode with
torch.no_grad, on the CPU with --threads threads; all models run in this one process, and the
ratios are against SlowFast R50 at the earlier system's 3x64x256x384 input.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from actline.models import create_model

CASES = [
    # (label, model, in_chans, T, H, W)
    ("SlowFast R50, seed input (3x64x256x384)", "slowfast_r50", 3, 64, 256, 384),
    ("SlowFast R50, native 1x64x40x60", "slowfast_r50", 1, 64, 40, 60),
    ("thermal_r2plus1d 1x64x40x60", "thermal_r2plus1d", 1, 64, 40, 60),
    ("thermal_frame_tcn 1x64x40x60", "thermal_frame_tcn", 1, 64, 40, 60),
    ("thermal_r2plus1d 1x16x16x16 (Nagoya)", "thermal_r2plus1d", 1, 16, 16, 16),
    ("SlowFast R50, native 1x16x16x16 (Nagoya)", "slowfast_r50", 1, 16, 16, 16),
]


def flops(name, c, t, h, w) -> float:
    with torch.device("meta"):
        model = create_model(name, num_classes=14, in_chans=c)
        x = torch.empty(1, c, t, h, w)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    return counter.get_total_flops()


def latency(model, x, repeats) -> float:
    with torch.no_grad():
        model(x)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="one repeat for the seed-size SlowFast")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for label, name, c, t, h, w in CASES:
        torch.manual_seed(0)
        model = create_model(name, num_classes=14, in_chans=c).eval()
        params = sum(p.numel() for p in model.parameters())
        heavy = c == 3
        reps = 1 if (heavy and args.quick) else (2 if heavy else args.repeats)
        lat1 = latency(model, torch.randn(1, c, t, h, w) + 20, reps)
        lat8 = latency(model, torch.randn(8, c, t, h, w) + 20, 1 if heavy else reps)
        rows.append((label, params, flops(name, c, t, h, w), lat1, lat8))
        print(f"measured {label}", flush=True)
    base = rows[0]
    print(f"\nCPU, {args.threads} threads, torch {torch.__version__}\n")
    print("| model | params | GFLOPs | FLOPs ratio | latency b1 ms | b1 speed-up | latency b8 ms | b8 speed-up |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, p, f, l1, l8 in rows:
        print(f"| {label} | {p / 1e6:.2f} M | {f / 1e9:.2f} | {base[2] / f:.0f}x | {l1 * 1e3:.1f} | "
              f"{base[3] / l1:.0f}x | {l8 * 1e3:.1f} | {base[4] / l8:.0f}x |")


if __name__ == "__main__":
    main()
