"""The spread of every score the timeline tests assert, over data/generator seeds and thread counts.

The bounds in tests/train/test_timeline_pipeline.py, tests/infer/test_timeline.py and
tests/models/test_temporal.py are set from what this prints (the lowest value seen, less a margin).
Run it once per thread count, one process at a time (floating-point sums differ with the threads):

    OMP_NUM_THREADS=1 PYTHONPATH=src .venv/bin/python benchmarks/timeline_test_spread.py --threads 1
    OMP_NUM_THREADS=2 PYTHONPATH=src .venv/bin/python benchmarks/timeline_test_spread.py --threads 2

Each seed generates the synthetic clips and long videos the ``rgb`` fixture makes (with that generator
seed), trains the ``timeline_model`` fixture's model on them, and scores it as the tests do. One JSON
line per run, on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' settings and scoring helpers, so that nothing is copied

from actline.cli import main  # noqa: E402
from actline.data.synth.assembly_video import generate_rgb_dataset  # noqa: E402
from actline.evaluate.timelines import score_timelines  # noqa: E402
from actline.infer.timeline_pipeline import TimelinePipeline  # noqa: E402
from tests.conftest import TIMELINE_ARGS, rgb_config  # noqa: E402
from tests.models.test_temporal import context_task_accuracies  # noqa: E402
from tests.train.test_timeline_pipeline import long_video_scores  # noqa: E402


def timeline_run(seed: int, threads: int, tmp: Path) -> dict:
    rgb = generate_rgb_dataset(tmp / "rgb", rgb_config(seed))
    model, cache = tmp / "model", str(rgb / "cache")
    with contextlib.redirect_stdout(sys.stderr):  # the commands' tables: stdout carries only the JSON lines
        main(["train-timeline", "--data", str(rgb / "clips"), "--out", str(model), "--cache", cache, *TIMELINE_ARGS,
              "--set", f"num_threads={threads}"])
        main(["timeline", str(model), str(rgb / "long"), "--out", str(tmp / "tl"), "--quiet", "--cache", cache])
    m = json.loads((model / "metrics.json").read_text())
    c, f = long_video_scores(tmp / "tl", rgb)
    segments = len(TimelinePipeline.load(model).run(rgb / "long" / "video_01.mp4"))
    b = score_timelines(family_constant(rgb / "long", tmp / "constant"), rgb / "long", 8, level="fine").aggregate()
    pick = ("acc", "edit_mean", "f1@0.5")
    return {"stage1_clip_accuracy": m["stage1"]["clip_accuracy"], "stage1_majority": m["stage1"]["majority"],
            "two_stage_fine_clip_accuracy": m["two_stage_fine_clip_accuracy"],
            "coarse": {k: round(c[k], 2) for k in pick}, "fine": {k: round(f[k], 2) for k in pick},
            "fine_of_truth_with_one_fine_label_per_family": {k: round(b[k], 2) for k in pick},
            "video_01_segments": segments}


def family_constant(truth: Path, out: Path) -> Path:
    """The ground truth with each family's fine labels replaced by one (its first): a perfect coarse timeline
    with a stage 2 that knows nothing, the fine level's baseline."""
    out.mkdir()
    for gt in sorted(truth.glob("*.csv")):
        with gt.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        first = {}
        for r in sorted(rows, key=lambda r: r["fine"]):
            first.setdefault(r["label"], r["fine"])
        with (out / gt.name).open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows({**r, "fine": first[r["label"]]} for r in rows)
    return out


def main_() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--only", choices=("timeline", "temporal"), default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    for seed in args.seeds:
        row = {"seed": seed, "threads": args.threads}
        if args.only != "timeline":
            row["context_task"] = {k: round(v, 2) for k, v in context_task_accuracies(seed).items()}
        if args.only != "temporal":
            with tempfile.TemporaryDirectory() as tmp:
                row.update(timeline_run(seed, args.threads, Path(tmp)))
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main_()
