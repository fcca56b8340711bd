"""Everything the command line prints: one console for results, one for messages, and the tables
(drawn by :mod:`actline.cli.tables` in the style this invocation asked for)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from rich.console import Console

from actline.cli.tables import Table, bold, print_table


def _console(stderr: bool) -> Console:
    """A console that keeps tables whole in logs and pipes: rich wraps at 80 columns when the stream is
    not a terminal, so use ``COLUMNS`` or a wide default there. (The stream itself is looked up at each
    write, so redirections made later are followed.)"""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else int(os.environ.get("COLUMNS", "160"))
    return Console(stderr=stderr, width=width)


out = _console(False)
err = _console(True)


def print_json(obj) -> None:
    """JSON on stdout, for pipes and scripts (``--json``)."""
    print(json.dumps(obj, indent=1, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)), flush=True)


def say(text: str) -> None:
    """A message for people (what was written, what to run next): stdout, or stderr under ``--json``."""
    out.print(text, highlight=False, soft_wrap=True)


def next_step(command: str) -> None:
    """The one line after a short job: what to run next."""
    say(f"next: {command}")


def progress_for(quiet: bool):
    """Logging through rich on stderr, and a progress bar unless ``quiet``: the one channel every command uses."""
    from actline.core.progress import RichProgress, setup_logging

    setup_logging(quiet, err)
    return RichProgress(not quiet, err)


def print_summary(s: dict) -> None:
    out.print(f"[bold]{s['name']}[/] ({s['format']}): {s['n_recordings']} recordings, {s['total_frames']} frames, "
              f"{s['total_duration_s'] / 60:.1f} min, {s['n_samples']} labelled windows")
    t = Table("recordings", ["id", "group", ">frames", ">duration s", ">fps (median)", ">interval ms min-max",
                             ">gaps>1s", ">frames w/ invalid px", ">max °C", ">samples"])
    for r in s["recordings"]:
        t.add_row(r["id"], r["group"], str(r["frames"]), f"{r['duration_s']:.1f}", str(r["fps_median"]),
                  f"{r['interval_ms_min']}-{r['interval_ms_max']}", str(r["gaps_over_1s"]),
                  f"{100 * r['frames_with_invalid_pixels']:.1f}%", f"{r['max_c']:.1f}", str(r["samples"]))
    print_table(t)
    t = Table(f"classes (imbalance max/min {s['imbalance_ratio']}, majority {100 * (s['majority_share'] or 0):.1f}%)",
              ["class", ">all"])
    split_cols = []
    for name, sp in s["splits"].items():
        if "error" in sp:
            continue
        t.columns += [f">{name} train", f">{name} eval"]
        split_cols.append(sp)
    for cls in s["classes"]:
        row = [cls, str(s["class_counts"][cls])]
        for sp in split_cols:
            row += [str(sp["train_counts"][cls]), str(sp["eval_counts"][cls])]
        t.add_row(*row)
    print_table(t)
    for name, sp in s["splits"].items():
        if "error" in sp:
            out.print(f"split {name}: not available ({sp['error']})")
        elif sp["warning"]:
            out.print(f"[bold red]{sp['warning']}[/]")
        else:
            out.print(f"split {name}: {sp['n_train']} train / {sp['n_eval']} eval windows, no overlap")
    for w in s["warnings"]:
        out.print(f"[yellow]warning:[/] {w}")
    like = s.get("room_likeness")
    if like:  # how alike the rooms look by their empty-room fingerprints (real 40x60 rooms: 0.57-0.96, median 0.86)
        same = "/".join(f"{v:.2f}" for v in like["same"]) if like["same"] else "-"
        out.print(f"rooms ({like['locations']} locations): nearest empty room of the same location {same}, "
                  f"of another location {'/'.join(f'{v:.2f}' for v in like['other'])} (min/median/max similarity)")



def print_metrics(m: dict, as_json: bool = False) -> None:
    """The model's figures with intervals, beside every baseline on the same split."""
    if as_json:
        return print_json(m)
    if m.get("held_out", True) is None:
        out.print(f"[bold]{m.get('note')}[/]")
        return
    if m["split"].get("warning"):
        out.print(f"[bold red]{m['split']['warning']}[/]")
    t = Table(f"split {m['split']['name']}: {m['n']} evaluation windows ({m['split']['n_train']} training windows)",
              ["", ">top-1 %", ">top-5 %", ">mean class acc %", ">macro-F1 %"])
    keys = ("top1", "top5", "mean_class_accuracy", "macro_f1")
    ci = m.get("ci95", {})
    t.add_row(bold(f"{m.get('model', 'model')}" + (f" x{m['seeds']}" if m.get("seeds", 1) > 1 else "")),
              *[f"{m[k]:.1f} [{ci[k][0]:.0f}-{ci[k][1]:.0f}]" if k in ci else f"{m[k]:.1f}" for k in keys])
    for name, b in m["baselines"].items():
        label = name + (f" ({b['model']})" if "model" in b else "")
        t.add_row(label, *[f"{b[k]:.1f}" for k in keys])
    print_table(t)
    out.print("[dim]brackets: bootstrap (BCa) 95% interval over evaluation windows[/]")
    if "majority_class_recall" in m:
        out.print(f"majority class ({m['majority_class']}) recall: {m['majority_class_recall']:.1f}%")
    if falls := m.get("false_falls"):
        say(false_falls_line(falls))
    if gate := m.get("room_gate"):
        sims = gate["similarity"].values()
        answer = gate.get("new_room_answer", "the fallback fused with the trees")  # metrics.json made before 0.6
        out.print(f"room gate (at {gate['threshold']:g}): {gate['fused_windows']} of {gate['windows']} windows in rooms "
                  f"unlike the training rooms, answered by {answer}; similarity {min(sims):.2f}-{max(sims):.2f}")



def false_falls_line(f: dict) -> str:
    """One line: the share of windows of other classes read as a fall, the worst location's, the baselines'."""
    worst = f["by_location"][f["worst_location"]]
    base = ", ".join(f"{n} {v:.1f} %" for n, v in f.get("baselines", {}).items())
    where = (f"; worst location {f['worst_location']}: {worst['share']:.1f} % of {worst['windows']}"
             if len(f["by_location"]) > 1 else f" in {f['worst_location']}")
    return (f"windows of other classes read as a fall ({', '.join(f['alarm_classes'])}): {f['share']:.1f} % of "
            f"{f['windows']}{where}" + (f" (baselines: {base})" if base else ""))


def print_cv(r: dict, as_json: bool = False) -> None:
    """``actline cv``: first the figures pooled over every held-out window beside the pooled baselines (with
    groups held out, folds differ in which classes they hold, so a mean of per-fold figures misleads), then the
    per-fold table, the mean ± sd over folds, and the pooled per-class table."""
    if as_json:
        return print_json(r)
    keys = ("top1", "mean_class_accuracy", "macro_f1")
    pooled = r["pooled"]
    t = Table(f"{r['model']}: {r['folds']} folds x {r['repeats']} repeat(s), grouped by {r['group_by']}: pooled over "
              f"every held-out window (mean ± sd over repeats)", ["", ">top-1 %", ">mean class acc %", ">macro-F1 %"])
    for name, figs in [("model", pooled), *((f"{n} baseline", b) for n, b in pooled.get("baselines", {}).items())]:
        if all(k in figs for k in keys):
            t.add_row(name, *(f"{figs[k]['mean']:.1f} ± {figs[k]['sd']:.1f}" for k in keys))
    print_table(t)
    t = Table("per fold", [">repeat", ">fold", ">n", ">classes", ">top-1 %", ">mean class acc %", ">macro-F1 %",
                           ">majority top-1 / F1", ">classical top-1 / F1"])
    for f in r["per_fold"]:
        t.add_row(str(f["repeat"]), str(f["fold"]), str(f["n"]), str(f.get("classes_held_out", "")),
                  *[f"{f[k]:.1f}" for k in keys],
                  f"{f.get('majority_top1', 0):.1f} / {f.get('majority_macro_f1', 0):.1f}",
                  f"{f.get('classical_top1', 0):.1f} / {f.get('classical_macro_f1', 0):.1f}")
    print_table(t)
    single = [f"{f['repeat']}/{f['fold']}" for f in r["per_fold"] if f.get("classes_held_out") == 1]
    if single:
        say(f"note: fold(s) {', '.join(single)} hold a single class: a model that predicts it scores 100 there, "
            "so the mean over folds flatters; read the pooled figures above")
    if falls := r.get("false_falls_pooled"):
        say(false_falls_line(falls) + ", pooled over every fold")
    ms = r["mean_sd_over_folds"]
    for name, prefix in (("model", ""), ("classical", "classical_"), ("majority", "majority_")):
        vals = [ms.get(prefix + k) for k in keys]
        if all(vals):
            out.print(f"{name:10s} mean ± sd over folds: " + ", ".join(
                f"{lab} {v['mean']:.1f} ± {v['sd']:.1f}" for lab, v in zip(("top-1", "MCA", "macro-F1"), vals)))
    t = Table("per class, pooled over folds and repeats",
              ["class", ">support", ">predicted", ">recall %", ">precision %", ">F1 %"])
    for c, v in r["per_class_pooled"].items():
        if v["support"] or v["predicted"]:
            t.add_row(c, str(v["support"]), str(v["predicted"]), f"{v['recall']:.1f}", f"{v['precision']:.1f}",
                      f"{v['f1']:.1f}")
    print_table(t)


def print_timelines(results, value_categories: bool = True, as_json: bool = False) -> None:
    """One row per input of ``actline timeline``: duration, segments, value-category shares (or, with
    ``as_json``, the same per input with its segments); what was written goes to stderr."""
    from dataclasses import asdict

    from actline.data.clips import VALUE_CATEGORIES
    from actline.evaluate.valuestream import category_shares

    cats = VALUE_CATEGORIES if value_categories else ()
    rows = [{"input": str(r.source), "duration_s": r.duration_s, "n_segments": len(r.segments),
             "value_category_shares": {c: category_shares(r.segments)[c] for c in cats},
             "written": [str(w) for w in r.written], "segments": [asdict(s) for s in r.segments]} for r in results]
    for r in rows:
        err.print(f"wrote {', '.join(r['written'])}", highlight=False)
    if as_json:
        return print_json(rows)
    t = Table(f"{len(results)} input(s)", ["input", ">duration s", ">segments", *[f">{c} %" for c in cats]])
    for r in rows:
        t.add_row(Path(r["input"]).name, f"{r['duration_s']:.1f}", str(r["n_segments"]),
                  *[f"{r['value_category_shares'][c]:.1f}" for c in cats])
    print_table(t)


def print_scores(scores, bg=()) -> None:
    """``actline score``: per timeline (up to 20) and over all of them."""
    agg = scores.aggregate()
    n = len(scores.per_video)
    t = Table(f"{n} timeline(s), {agg['n_frames']} frames" + (f", background: {', '.join(bg)}" if bg else ""),
              ["", ">acc %", ">edit", ">F1@10", ">F1@25", ">F1@50", ">mean IoU %"])
    rows = list(scores.per_video.items()) if n <= 20 else []
    for name, r in rows + [(bold("all"), {**agg, "edit": agg["edit_mean"]})]:
        t.add_row(name, *[f"{r[k]:.2f}" for k in ("acc", "edit", "f1@0.1", "f1@0.25", "f1@0.5", "mean_iou")])
    print_table(t)


def print_value_stream(summary: dict, as_json: bool = False) -> None:
    """``actline analyze``: time per value category, then per step (``as_json``: the summary as JSON)."""
    if as_json:
        return print_json(summary)
    t = Table(f"{summary['timelines']} timeline(s), {summary['total_s'] / 60:.1f} min",
              ["value category", ">time s", ">share %"])
    for c, v in summary["value_categories"].items():
        t.add_row(c, f"{v['time_s']:.1f}", f"{v['share']:.1f}")
    print_table(t)
    s = Table("steps", ["step", "category", ">count", ">time s", ">share %", ">mean s", ">cycle s"])
    for k, e in summary["steps"].items():
        s.add_row(k, e["value_category"], str(e["count"]), f"{e['time_s']:.1f}", f"{e['share']:.1f}",
                  f"{e['duration']['mean_s']:.1f}", f"{e['cycle_time']['mean_s']:.1f}" if e["cycle_time"]["n"] else "-")
    print_table(s)


def print_timeline_metrics(m: dict) -> None:
    """``actline train-timeline``: held-out accuracies beside majority and chance (clips), or the inner
    validation step accuracy (annotated recordings)."""
    if "train_recordings" in m:
        out.print(f"trained on {m['train_recordings']} recordings; inner validation step accuracy "
                  f"{m['inner_val_step_accuracy']} on {m['inner_val_recordings']} recordings")
        return
    t = Table(f"held-out clips: {m['held_out_clips']} (trained on {m['train_clips']})",
              ["", ">accuracy %", ">majority %", ">chance %"])
    s1 = m["stage1"]
    t.add_row("coarse (stage 1)", f"{s1['clip_accuracy']:.1f}", f"{s1['majority']:.1f}", f"{s1['chance']:.1f}")
    if m["two_stage_fine_clip_accuracy"] is not None:
        t.add_row("fine (both stages)", f"{m['two_stage_fine_clip_accuracy']:.1f}", f"{m['fine_majority']:.1f}",
                  f"{m['fine_chance']:.1f}")
    for fam, f in m["stage2"].items():
        t.add_row(f"  {fam} ({f['fine_labels']} fine, {f['held_out_clips']} clips)", f"{f['clip_accuracy']:.1f}",
                  f"{f['majority']:.1f}", f"{100 / f['fine_labels']:.1f}")
    print_table(t)


def print_rows(rows: list[dict], title: str, columns: tuple[str, ...], as_json: bool = False) -> None:
    """A list of records as a table (or JSON), columns in the order given."""
    if as_json:
        return print_json(rows)
    t = Table(title, [c.replace("_", " ") for c in columns])
    for r in rows:
        t.add_row(*[str(r.get(c, "")) for c in columns])
    print_table(t)
