"""Value-stream analytics: where the time went, per value category and per step, and how steps repeat."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from pathlib import Path

import numpy as np

from actline.core.atomic import write_json, write_text
from actline.data.clips import VALUE_CATEGORIES
from actline.data.segments import Segment

CATEGORIES = (*VALUE_CATEGORIES, "none")  # "none": a step without a value suffix
COLOURS = dict(zip(CATEGORIES, ((44, 160, 44), (255, 187, 60), (214, 39, 40), (160, 160, 160))))


def _stats(values: list[float]) -> dict:
    v = np.asarray(values, dtype=float)
    if not len(v):
        return {"n": 0}
    return {"n": int(len(v)), "mean_s": float(v.mean()), "median_s": float(np.median(v)), "min_s": float(v.min()),
            "max_s": float(v.max()), "std_s": float(v.std(ddof=1)) if len(v) > 1 else 0.0}


def category_times(segs: list[Segment]) -> dict[str, float]:
    """Seconds of a timeline in each value category (``none``: segments without one)."""
    t = dict.fromkeys(CATEGORIES, 0.0)
    for s in segs:
        cat = s.value_category or "none"
        t[cat] = t.get(cat, 0.0) + s.end_s - s.start_s
    return t


def category_shares(segs: list[Segment]) -> dict[str, float]:
    """Percent of a timeline's segment time in each value category."""
    t = category_times(segs)
    span = sum(t.values())
    return {c: 100 * v / span if span else 0.0 for c, v in t.items()}


def analyze(timelines: dict[str, list[Segment]]) -> dict:
    """Time and share per value category and per fine action; counts, durations and cycle times of steps.

    The cycle time of a step is the time from one start of it to its next start in the same timeline.
    """
    cat_time = defaultdict(float)
    steps: dict[str, dict] = {}
    per_timeline = {}
    for name, segs in timelines.items():
        starts = defaultdict(list)
        for s in segs:
            key = s.fine or s.label
            e = steps.setdefault(key, {"coarse": s.label, "value_category": s.value_category or "none",
                                       "durations": [], "cycles": []})
            e["durations"].append(s.end_s - s.start_s)
            starts[key].append(s.start_s)
        for key, st in starts.items():
            steps[key]["cycles"] += list(np.diff(sorted(st)))
        t_cat, shares = category_times(segs), category_shares(segs)
        per_timeline[name] = {"total_s": sum(t_cat.values()), **{f"{c}_share": shares[c] for c in CATEGORIES}}
        for c, v in t_cat.items():
            cat_time[c] += v
    total = sum(cat_time.values())
    by_cat = {c: {"time_s": cat_time.get(c, 0.0), "share": 100 * cat_time.get(c, 0.0) / total if total else 0.0}
              for c in CATEGORIES}
    by_step = {k: {"coarse": e["coarse"], "value_category": e["value_category"], "count": len(e["durations"]),
                   "time_s": float(sum(e["durations"])),
                   "share": 100 * float(sum(e["durations"])) / total if total else 0.0,
                   "duration": _stats(e["durations"]), "cycle_time": _stats(e["cycles"])}
               for k, e in sorted(steps.items(), key=lambda kv: -sum(kv[1]["durations"]))}
    return {"timelines": len(timelines), "total_s": total, "value_categories": by_cat, "steps": by_step,
            "per_timeline": per_timeline}


def write_report(summary: dict, timelines: dict[str, list[Segment]], out: str | Path) -> list[Path]:
    out = Path(out)
    written = [write_json(out / "summary.json", summary)]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["step", "coarse", "value_category", "count", "time_s", "share_pct", "mean_duration_s",
                "median_duration_s", "mean_cycle_time_s"])
    for k, e in summary["steps"].items():
        w.writerow([k, e["coarse"], e["value_category"], e["count"], f"{e['time_s']:.2f}", f"{e['share']:.1f}",
                    f"{e['duration'].get('mean_s', 0):.2f}", f"{e['duration'].get('median_s', 0):.2f}",
                    f"{e['cycle_time']['mean_s']:.2f}" if e["cycle_time"]["n"] else ""])
    written.append(write_text(out / "steps.csv", buf.getvalue()))
    written.append(plot_timelines(timelines, out / "timelines.png"))
    return written


def plot_timelines(timelines: dict[str, list[Segment]], path: Path) -> Path:
    """One block per timeline, one coloured row per level: coarse, fine, value category."""
    from actline.core.plotting import palette, pyplot, save_figure

    plt = pyplot()
    names = list(timelines)
    all_segs = [s for segs in timelines.values() for s in segs]
    colours = palette([s.label for s in all_segs] + [s.fine or s.label for s in all_segs])
    vc = COLOURS
    fig, axes = plt.subplots(len(names), 1, figsize=(11, 1.3 + 1.0 * len(names)), squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        segs = timelines[name]
        for row, (level, get) in enumerate([("coarse", lambda s: colours[s.label]),
                                            ("fine", lambda s: colours[s.fine or s.label]),
                                            ("value", lambda s: vc[s.value_category or "none"])]):
            ax.broken_barh([(s.start_s, s.end_s - s.start_s) for s in segs], (2 - row - 0.4, 0.8),
                           facecolors=[tuple(c / 255 for c in get(s)) for s in segs])
        ax.set_yticks([2, 1, 0], ["coarse", "fine", "value"])
        ax.set_title(name, fontsize=9, loc="left")
        ax.set_xlim(0, max([s.end_s for s in segs] + [1]))
    axes[-1, 0].set_xlabel("time (s)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=tuple(c / 255 for c in vc[k])) for k in vc]
    fig.legend(handles, list(vc), loc="upper right", ncol=4, fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    save_figure(fig, path)
    return path
