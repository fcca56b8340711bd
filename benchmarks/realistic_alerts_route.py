"""Falls as events on the realistic preset's reporting sets, through the command line only: the route
of ``benchmarks/nagoya_alerts_route.sh`` on generated 40x60 rooms, whole recordings or whole rooms held out.

For each data set (generator seed S, the sets ``realistic_accuracy.py`` reports on) and each split:
  1. ``actline train --split SPLIT --set background_class=none --set seed=S`` (fold 0 of the grouped split);
  2. ``actline alerts choose MODEL --data DATA --group-by recording|location --folds 3`` on the training
     part alone (the run's held-out recordings are left out), at most one false alarm per hour, with
     ``--allow-silent``: on these short sets the chosen setting often alerts on no held-out fall, which the command
     refuses to write by default; the route measures what that setting does;
  3. ``actline evaluate-stream MODEL --data DATA --held-out``: the held-out recordings replayed live with
     the chosen setting, beside the simple ceiling baseline that evaluate-stream scores on the same streams.
Events are pooled over sets (falls alerted / falls; false alarms / hours outside falls) with 95 %
intervals (Wilson for recall, the exact Poisson interval evaluate-stream uses for the rate).

Run:  .venv/bin/python benchmarks/realistic_alerts_route.py --sets 0 1 2 3 --out runs/realistic-alerts
      (about 15 minutes of one core per set and split: three trainings for the folds, one for the model)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from realistic_accuracy import data_set  # the same data sets as the accuracy tables (this folder is on sys.path)
from scipy.stats import binomtest

from actline.metrics.events import rate_interval

SPLITS = {"by-recording": "recording", "by-location": "location"}


def run(cmd: list[str], out: Path | None = None) -> str:
    print("+", " ".join(cmd), flush=True)
    got = subprocess.run(cmd, check=True, capture_output=True, text=True)
    if out is not None:
        out.write_text(got.stdout)
    return got.stdout


def one_route(actline: str, data: Path, out: Path, split: str, seed: int, threads: int) -> dict:
    report = out / "evaluate-stream.json"
    if report.exists():
        return json.loads(report.read_text())
    model, t = out / "train" / "model", str(threads)
    if not (out / "train" / "metrics.json").exists():  # a finished step is kept: the route resumes
        run([actline, "train", "--data", str(data), "--out", str(out / "train"), "--split", split, "--set", f"seed={seed}",
             "--set", f"num_threads={threads}", "--set", "background_class=none", "--overwrite", "--quiet"])
    if not (out / "choose.json").exists():
        run([actline, "alerts", "choose", str(model), "--data", str(data), "--group-by", SPLITS[split], "--folds", "3",
             "--out", str(out / "folds"), "--threads", t, "--quiet", "--json", "--allow-silent"], out / "choose.json")
    text = run([actline, "evaluate-stream", str(model), "--data", str(data), "--held-out", "--threads", t,
                "--collect", str(out / "review"), "--quiet", "--json"])
    report.write_text(text)
    return json.loads(text)


def recall_interval(k: int, n: int) -> tuple[float, float]:
    if n == 0:
        return (0.0, 100.0)
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return (100 * ci.low, 100 * ci.high)


def summarise(report: dict, seed: int) -> dict:
    """The figures this benchmark pools, from evaluate-stream's JSON report, per event kind."""
    def part(p: dict) -> dict:
        return {"events": p["events"], "detected": p["detected"], "false_alarms": p["false_alarms"],
                "hours": p["hours_outside"], "delay_median_s": p["delay_median_s"]}
    return {"set": seed, "recordings": report["recordings"], "hours": report["hours"], "alerts": report["alerts"],
            "stream": report["stream"],
            "kinds": {k: {who: part(v[who]) for who in ("model", "baseline")} for k, v in report["events"].items()}}


def table(rows: list[dict], split: str) -> None:
    mins = sum(r["hours"] for r in rows) * 60
    print(f"\n### realistic preset, split {split}, sets {[r['set'] for r in rows]}: "
          f"{sum(r['recordings'] for r in rows)} recordings, {mins:.1f} min replayed\n")
    print("| event | who | events | recall % (95 % interval) | delay s (median of sets) | false alarms | "
          "min outside events | per hour (95 % interval) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    kinds = sorted({k for r in rows for k in r["kinds"]})
    for kind in kinds:
        for who in ("model", "baseline"):
            ps = [r["kinds"][kind][who] for r in rows if kind in r["kinds"]]
            ev, hit = sum(p["events"] for p in ps), sum(p["detected"] for p in ps)
            fa, hours = sum(p["false_alarms"] for p in ps), sum(p["hours"] for p in ps)
            delays = sorted(p["delay_median_s"] for p in ps if p["delay_median_s"] is not None)
            med = f"{delays[len(delays) // 2]:.1f}" if delays else "–"
            lo, hi = recall_interval(hit, ev)
            plo, phi = rate_interval(fa, hours) or (0.0, 0.0)
            rec = f"{100 * hit / ev:.1f} ({lo:.1f}–{hi:.1f})" if ev else "–"
            print(f"| {kind} | {who} | {ev} | {rec} | {med} | {fa} | {hours * 60:.1f} | "
                  f"{fa / max(hours, 1e-9):.2f} ({plo:.2f}–{phi:.2f}) |")
    print("\nper set (model: events alerted / events and false alarms per kind; the chosen setting):")
    for r in rows:
        got = "; ".join(f"{k}: {v['model']['detected']}/{v['model']['events']}, {v['model']['false_alarms']}"
                        for k, v in sorted(r["kinds"].items()))
        print(f"  set {r['set']}: {got}; alerts {r['alerts']}, enter {r['stream']['enter']:g}, "
              f"exit {r['stream']['exit']:g}, ema {r['stream']['ema']:g}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--split", nargs="+", default=list(SPLITS), choices=list(SPLITS))
    ap.add_argument("--out", type=Path, default=Path("runs/realistic-alerts"))
    ap.add_argument("--data-root", type=Path, default=None, help="folder holding data/realistic-S (default: --out)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--actline", default=str(Path(sys.executable).with_name("actline")))
    a = ap.parse_args(argv)
    for split in a.split:
        rows = []
        for seed in a.sets:
            data = data_set(a.data_root or a.out, seed)
            out = a.out / split / f"set{seed}"
            out.mkdir(parents=True, exist_ok=True)
            rows.append(summarise(one_route(a.actline, data, out, split, seed, a.threads), seed))
        table(rows, split)
    return 0


if __name__ == "__main__":
    sys.exit(main())
