"""How much of a single training run's figure is the seed? Train the default recipe with several seeds.

Run: .venv/bin/python benchmarks/seed_study.py runs/readme/data --split given --seeds 1 2 3 4 5 [--set num_threads=1]

Each seed is a full ``actline train`` run (same split, same data); the classical baseline does not depend
on the network's seed, so it is printed once. Reports every seed, then mean, standard deviation and the
number of seeds on which the network beats the classical baseline in top-1 and in mean class accuracy.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from actline.data.formats import load_dataset
from actline.runs.clip_run import train_run
from actline.train.config import load_config

KEYS = ("top1", "mean_class_accuracy", "macro_f1")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data", type=Path)
    ap.add_argument("--split", default="given")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--ensemble", type=int, default=1, help="models per run (the --seeds option of actline train)")
    ap.add_argument("--out", type=Path, default=Path("runs/seed-study"))
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args()
    ds = load_dataset(args.data)
    rows, classical = [], None
    for s in args.seeds:
        cfg = load_config(None, [f"split={args.split}", f"seed={s}", f"seeds={args.ensemble}", *args.overrides])
        m = train_run(ds, args.out / f"{args.split}-e{args.ensemble}-seed{s}", cfg)
        classical = m["baselines"]["classical"]
        rows.append({k: m[k] for k in KEYS} | {"seed": s, "train_time_s": m["train_time_s"]})
        print(f"seed {s}: " + ", ".join(f"{k} {m[k]:.1f}" for k in KEYS) + f" ({m['train_time_s']:.0f} s)", flush=True)
    summary = {k: {"mean": statistics.mean(r[k] for r in rows),
                   "sd": statistics.stdev(r[k] for r in rows) if len(rows) > 1 else 0.0} for k in KEYS}
    wins = {k: sum(r[k] > classical[k] for r in rows) for k in ("top1", "mean_class_accuracy")}
    print(f"split {args.split}, {args.ensemble} model(s) per run, {len(rows)} seeds: "
          + ", ".join(f"{k} {v['mean']:.1f} ± {v['sd']:.1f}" for k, v in summary.items()))
    print("classical baseline: " + ", ".join(f"{k} {classical[k]:.1f}" for k in KEYS)
          + f" | majority top1 {m['baselines']['majority']['top1']:.1f}")
    print(f"seeds beating classical: top-1 {wins['top1']}/{len(rows)}, "
          f"mean class accuracy {wins['mean_class_accuracy']}/{len(rows)}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.split}-e{args.ensemble}.json").write_text(json.dumps(
        {"rows": rows, "summary": summary, "classical": classical, "wins": wins}, indent=1))


if __name__ == "__main__":
    main()
