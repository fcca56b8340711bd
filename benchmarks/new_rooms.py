"""A new room, with and without a calibration session: the realistic preset's figures for rooms never seen.

Run: .venv/bin/python benchmarks/new_rooms.py --out runs/new-rooms [--seeds 0 1 ... 9] [--threads 1]
     [--set KEY=VALUE ...] [--adapt KEY=VALUE ...]

For each data set of the realistic preset (default options; seeds 0-9 are the reporting sets, 100 and above
tuning sets), one model is trained with one room held out (the room of fold 0 of a grouped split by
location, as ``benchmarks/realistic_accuracy.py --split by-location`` holds it out) and, besides, one
recording of every other room that has two or more (so that the training rooms have held-out recordings
too). Then:

- **without calibration**: the held-out room's recordings, scored as they are; how often the model reads a
  non-fall window as "lying with risk" there;
- **with calibration**: ``actline adapt`` on one calibration session of that room (``actline synth
  --calibration``: the person does each of the room's activities once), the training data replayed; the
  held-out room's recordings scored again, and the training rooms' held-out recordings before and after
  (what the model forgot); how long adapting took;
- **the new-room measure**: whether the held-out room is flagged as new (by the majority of its recordings)
  and how many of the training rooms' held-out recordings are.

Printed: per data set and as mean ± sd over them, macro-F1, top-1 and mean class accuracy of each, the
classical and majority baselines on the same windows. Runs land under --out (reused when finished).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

import actline
from actline.data import WindowRule
from actline.data.formats import load_dataset
from actline.data.splits import make_split
from actline.data.synth.thermal_set import SynthConfig, generate_thermal_dataset
from actline.runs.adapt_run import adapt_model
from actline.runs.clip_run import train_run
from actline.train.adapt_fit import AdaptConfig
from actline.train.config import load_config, load_settings

RISK = "lying down-lying with risk"
KEYS = ("macro_f1", "top1", "mean_class_accuracy")


def data_sets(out: Path, seed: int) -> tuple[Path, Path]:
    data, cal = out / "data" / f"realistic-{seed}", out / "data" / f"calibration-{seed}"
    if not (data / "frames").is_dir():
        generate_thermal_dataset(data, SynthConfig(preset="realistic", seed=seed))
    if not (cal / "frames").is_dir():
        generate_thermal_dataset(cal, SynthConfig(preset="realistic", seed=seed, calibration=()))
    return data, cal


def held_out(ds, seed: int) -> tuple[list[str], list[str]]:
    """(the room held out: by-location fold 0, as realistic_accuracy.py; one recording of each other room with 2+)."""
    sp = make_split(ds, "by-location", WindowRule(32, "time", 4.0), seed=seed, group_by="location")
    rooms = sorted({ds.recordings[s.recording_id].group for s in sp.eval})
    others = []
    for loc in sorted({r.group for r in ds.recordings.values()} - set(rooms)):
        recs = sorted(r for r, x in ds.recordings.items() if x.group == loc)
        others += recs[:1] if len(recs) >= 2 else []
    return rooms, others


def one_set(out: Path, seed: int, threads: int, sets: list[str], adapt_sets: list[str]) -> dict:
    data, cal = data_sets(out, seed)
    ds = load_dataset(data)
    rooms, others = held_out(ds, seed)
    run = out / "runs" / f"seed{seed}"
    if not (run / "metrics.json").is_file():
        cfg = load_config(None, ["split=holdout", "holdout=" + ",".join(rooms + others), f"seed={seed}",
                                 f"num_threads={threads}", *sets])
        train_run(ds, run, cfg)
    room_cal = out / "data" / f"calibration-{seed}-{'-'.join(rooms)}"
    if not (room_cal / "frames").is_dir():
        generate_thermal_dataset(room_cal, SynthConfig(preset="realistic", seed=seed, calibration=tuple(rooms)))
    acfg = load_settings(AdaptConfig(seed=seed, num_threads=threads), None, adapt_sets)
    adapted = out / "adapted" / f"seed{seed}"
    t0 = time.time()
    report = adapt_model(run / "model", room_cal, adapted, acfg, replay=data, eval_data=data, overwrite=True)
    report["wall_s"] = round(time.time() - t0, 1)
    report["known_room_recordings"] = others
    model = actline.load(run / "model")  # the new-room measure: the held-out room flagged, known rooms not
    flags = {r: model.room_report(ds.recordings[r].empty_room()) for r in ds.recordings if r.split("_")[0] in rooms
             or r in others}
    report["flagged"] = {"room": np.mean([flags[r]["new"] for r in flags if r not in others]) > 0.5 if flags else None,
                         "known_recordings": [flags[r]["new"] for r in others if r in flags]}
    report["false_falls"] = {w: false_falls(report["scores"]["new_room"][w], model.classes) for w in ("before", "after")}
    return report


def false_falls(scores: dict, classes: list[str]) -> float:
    """Share of the room's non-fall windows read as "lying with risk" (%)."""
    c = np.asarray(scores["confusion"])
    k = classes.index(RISK)
    other = np.delete(np.arange(len(classes)), k)
    return round(100 * float(c[other, k].sum()) / max(float(c[other].sum()), 1), 1)


def summarise(rows: list[dict]) -> dict:
    def pick(part, when, key):
        return [r["scores"][part][when][key] for r in rows if part in r["scores"]]

    def base(part, name, key):
        return [r["scores"][part]["baselines"][name][key] for r in rows if part in r["scores"]]

    def ms(v):
        return f"{statistics.mean(v):.1f} ± {statistics.stdev(v) if len(v) > 1 else 0:.1f}" if v else "–"

    out = {}
    for part in ("new_room", "old_data"):
        for who in ("before", "after"):
            out[f"{part} {who}"] = {k: ms(pick(part, who, k)) for k in KEYS}
        for name in ("classical", "majority"):
            out[f"{part} {name}"] = {k: ms(base(part, name, k)) for k in KEYS}
    out["adapt_time_s"] = ms([r["adapt_time_s"] for r in rows])
    out["rooms_flagged_%"] = round(100 * float(np.mean([bool(r["flagged"]["room"]) for r in rows])), 1)
    known = [f for r in rows for f in r["flagged"]["known_recordings"]]
    out["known_recordings_flagged_%"] = round(100 * float(np.mean(known)), 1) if known else None
    for w in ("before", "after"):
        out[f"non-fall windows read as fall, {w} (mean, worst room)"] = (
            round(statistics.mean(r["false_falls"][w] for r in rows), 1), max(r["false_falls"][w] for r in rows))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--set", dest="sets", action="append", default=[])
    ap.add_argument("--adapt", dest="adapt_sets", action="append", default=[])
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    rows = []
    for seed in a.seeds:
        r = one_set(a.out, seed, a.threads, a.sets, a.adapt_sets)
        rows.append(r)
        s = r["scores"]
        print(f"seed {seed}: new room macro-F1 {s['new_room']['before']['macro_f1']:.1f} -> "
              f"{s['new_room']['after']['macro_f1']:.1f} (classical {s['new_room']['baselines']['classical']['macro_f1']:.1f});"
              f" training rooms {s.get('old_data', {}).get('before', {}).get('macro_f1', float('nan')):.1f} -> "
              f"{s.get('old_data', {}).get('after', {}).get('macro_f1', float('nan')):.1f}; adapted in {r['adapt_time_s']} s",
              flush=True)
    summary = summarise(rows)
    print("\n| | macro-F1 | top-1 | mean class acc |\n|---|---:|---:|---:|")
    for name, v in summary.items():
        if isinstance(v, dict):
            print(f"| {name} | {v['macro_f1']} | {v['top1']} | {v['mean_class_accuracy']} |")
    for k in ("adapt_time_s", "rooms_flagged_%", "known_recordings_flagged_%",
              "non-fall windows read as fall, before (mean, worst room)", "non-fall windows read as fall, after (mean, worst room)"):
        print(f"{k}: {summary[k]}")
    (a.out / "summary.json").write_text(json.dumps({"summary": summary, "rows": rows}, indent=1, default=float))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
