"""``actline alerts choose MODEL --data TRAIN_DATA``: the alert setting a model should stream with, chosen on
recordings that no model judging them has seen.

1. TRAIN_DATA, less the recordings MODEL's own run held out (its ``split.json``: the data being reported is
   never used), is cut into folds by recording or by room (``group_by``).
2. On each fold's training part a model of MODEL's recipe (its saved training config, with ``overrides``)
   is trained; each held-out recording is replayed as a live stream through its fold's model
   (:func:`~actline.apps.stream.alert_search.trace_recording`).
3. Alert classes, hold times, enter/exit thresholds and smoothing are searched over every held-out
   recording (:func:`~actline.apps.stream.alert_search.search`); the trade-off (``max_false_alarms_per_hour``
   or ``min_recall``) picks one, written as MODEL's ``alerts.json`` with the curve it was chosen from.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from actline.core.errors import ActlineError


@dataclass
class ChooseOptions:
    group_by: str = "recording"  # or "location" (rooms; days for Nagoya)
    folds: int | None = None  # default: 5, or fewer groups
    max_false_alarms_per_hour: float | None = None  # the default trade-off: 1 per hour
    min_recall: float | None = None  # % (instead of the false alarms)
    events: list[str] = field(default_factory=list)  # event kinds (default: the model's default alert classes')
    overrides: list[str] = field(default_factory=list)  # key=value settings of the folds' training
    out: Path | None = None  # the folds' runs (default: a temporary directory); complete runs there are reused
    grace_s: float = 5.0
    device: str = "cpu"  # where the folds' models replay (auto: a GPU when there is one)
    threads: int = 0  # their CPU threads (0: the runtime's default)
    progress: object = None
    allow_silent: bool = False  # write the chosen setting even when it alerts on none of the held-out events


def choose_alerts(model: str | Path, data: str | Path, opts: ChooseOptions) -> dict:
    """Train the folds, replay the held-out recordings, search, pick, write ``MODEL/alerts.json``. Returns the
    document written, with ``rows`` (every setting scored)."""
    from actline.modeldir.directory import read_config

    model = Path(model)
    mcfg = read_config(model)
    if mcfg.get("pipeline") != "clip-classifier" or not isinstance(mcfg.get("training"), dict):
        raise ActlineError(model, "not a model trained by actline train (no training config to repeat on the folds)")
    if opts.min_recall is None and opts.max_false_alarms_per_hour is None:
        opts = replace(opts, max_false_alarms_per_hour=1.0)
    _check_trade_off(opts)
    ds, left_out = _data(data, mcfg)
    kinds = event_kinds(mcfg["classes"], ds.classes, opts.events)
    if opts.out is None:
        with tempfile.TemporaryDirectory(prefix="actline-alerts-") as tmp:
            traces, folds = fold_traces(ds, mcfg, model, opts, Path(tmp), kinds)
    else:
        traces, folds = fold_traces(ds, mcfg, model, opts, Path(opts.out), kinds)
    return _decide(model, data, mcfg, opts, traces, folds, kinds, left_out)


def _refuse_silence(chosen: dict, rows: list[dict], opts: ChooseOptions) -> None:
    """A setting that alerts on none of the held-out events is not written (a fall detector that never alerts
    looks quiet and fine): one line with the cheapest setting that alerts on one, and how to go on."""
    from actline.apps.stream.alert_search import curve, describe

    some = [r for r in curve(rows) if r["detected"]]
    near = (f"the fewest false alarms with an alert: {some[0]['false_alarms_per_hour']:.2f} per hour at "
            f"{some[0]['recall']:.1f} % recall ({describe(some[0])}); " if some else "no setting alerts on any; ")
    raise ActlineError("alerts choose", f"the best setting at {_trade(opts)} alerts on none of the "
                       f"{chosen['events']} held-out events, so nothing was written; {near}loosen the trade-off, "
                       "give more recordings, or write it anyway with --allow-silent (--out DIR keeps the folds for a "
                       "second choice)")


def _trade(opts: ChooseOptions) -> str:
    return (f"{opts.min_recall:g} % recall or more" if opts.min_recall is not None
            else f"{opts.max_false_alarms_per_hour:g} false alarms per hour or fewer")


def _check_trade_off(opts: ChooseOptions) -> None:
    if opts.min_recall is not None and not 0 <= opts.min_recall <= 100:
        raise ActlineError("--min-recall", f"must be a percentage in [0, 100], got {opts.min_recall:g}")
    if opts.max_false_alarms_per_hour is not None and not opts.max_false_alarms_per_hour >= 0:
        raise ActlineError("--max-false-alarms-per-hour", f"must be >= 0, got {opts.max_false_alarms_per_hour:g}")


def _data(data, mcfg: dict):
    """TRAIN_DATA less the recordings the model's run held out (how many were left out)."""
    from actline.data import load_dataset

    ds = load_dataset(data)
    held = set((mcfg.get("split") or {}).get("eval_recordings") or [])
    keep = {r: rec for r, rec in ds.recordings.items() if r not in held}
    if len(keep) < 2:
        raise ActlineError(data, f"{len(keep)} recording(s) besides those the model was evaluated on: need at least 2")
    return replace(ds, recordings=keep, samples=[s for s in ds.samples if s.recording_id in keep]), len(ds.recordings) - len(keep)


def event_kinds(model_classes: list[str], data_classes: list[str], asked: list[str]) -> dict[str, list[tuple]]:
    """Event kind -> the class sets whose alerts may count for it."""
    from actline.apps.stream.alert_search import candidates
    from actline.apps.stream.event_replay import event_kind
    from actline.infer.stream_config import default_alerts

    kind_of = lambda c: event_kind(c, data_classes)  # noqa: E731
    names = asked or sorted({kind_of(c) for c in default_alerts(model_classes)})
    if not names:
        raise ActlineError("--event", f"name the events to alert on (a class: {', '.join(model_classes)})")
    out = {}
    for k in names:
        sets = candidates(k, [c for c in model_classes if c in data_classes], kind_of)
        if not sets:
            raise ActlineError("--event", f"{k!r} is not an event of this model and data "
                                          f"(classes: {', '.join(model_classes)})")
        out[k] = sets
    return out


def fold_config(mcfg: dict, model: Path, k: int, n_folds: int, group_by: str, overrides: list[str]):
    """MODEL's recipe for fold ``k``: its saved training config (every setting as given: a model's own recipe
    never overrides it), the fold's split, then ``overrides``."""
    from actline.train.config import LoadedConfig, load_settings, read_saved

    cfg = read_saved(mcfg["training"], str(model / "config.json"))
    cfg = replace(cfg, split="kfold", fold=k, n_folds=n_folds, group_by=group_by, holdout=[])
    cfg = load_settings(cfg, None, overrides).validate()
    return LoadedConfig(cfg, frozenset(f.name for f in fields(cfg)))


def fold_traces(ds, mcfg: dict, model: Path, opts: ChooseOptions, out: Path, kinds: dict):
    from actline.apps.stream.alert_search import trace_recording
    from actline.apps.stream.event_replay import annotated_events, frame_labels
    from actline.infer import Recognizer
    from actline.runs.clip_run import train_run
    from actline.runs.rundir import METRICS, read_split

    groups = sorted({rid if opts.group_by == "recording" else rec.group for rid, rec in ds.recordings.items()})
    n_folds = min(opts.folds or 5, len(groups))
    if n_folds < 2:
        raise ActlineError("--group-by", f"one {opts.group_by} in the data: folds need at least two")
    traces, folds = [], []
    for k in range(n_folds):
        cfg = fold_config(mcfg, model, k, n_folds, opts.group_by, opts.overrides)
        run = out / f"fold{k}"
        reuse = (run / METRICS).is_file() and _same_recipe(run, cfg)
        if not reuse:
            _check_fold(ds, cfg, k)
            train_run(ds, run, cfg, progress=opts.progress, overwrite=True)
        held = read_split(run)["eval"]["recordings"]
        recog = Recognizer.load(run / "model", device=opts.device, threads=opts.threads)
        for i, rid in enumerate(held, start=1):
            rec = ds.recordings[rid]
            tr = trace_recording(recog, rec)
            t, labels = rec.timestamps - rec.timestamps[0], frame_labels(ds, rec)
            tr.events = {kind: annotated_events(kind, labels, t, ds.classes) for kind in kinds}
            traces.append((recog, tr))
            if opts.progress:
                opts.progress(f"fold {k + 1}/{n_folds}: held-out recordings replayed", i, len(held))
        folds.append({"fold": k, "held_out": sorted({rid if opts.group_by == "recording" else ds.recordings[rid].group
                                                     for rid in held}), "recordings": len(held), "reused": reuse,
                      "hours": sum(tr.duration for _, tr in traces[-len(held):]) / 3600 if held else 0.0})
    return traces, folds


def _check_fold(ds, cfg, k: int) -> None:
    """A fold whose training part holds a single class cannot train a classifier: one line saying so."""
    from actline.data.splits import make_split
    from actline.runs.clip_run import training_data

    seen, resolved = training_data(ds, cfg)
    split = make_split(seen, resolved.split, spec=resolved.rule(), fold=k, n_folds=resolved.n_folds, seed=resolved.seed,
                       group_by=resolved.group_by)
    classes = {s.label for s in split.train}
    if len(classes) < 2:
        only = ", ".join(seen.classes[c] for c in classes) or "nothing"
        raise ActlineError("--group-by", f"fold {k + 1}: its training part holds {only} alone (too few recordings or "
                                         "rooms for these folds: use more data, fewer --folds or --group-by recording)")


def _same_recipe(run: Path, cfg) -> bool:
    """Whether a complete fold run under ``--out`` was trained with ``cfg`` (so it can be reused)."""
    import yaml

    from actline.runs.rundir import CONFIG_YAML

    try:
        saved = yaml.safe_load((run / CONFIG_YAML).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return False
    same = lambda a, b: json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)  # noqa: E731
    return isinstance(saved, dict) and all(same(saved.get(k), v) for k, v in cfg.to_dict().items() if v is not None)


def _decide(model: Path, data, mcfg: dict, opts: ChooseOptions, traces: list, folds: list, kinds: dict,
            left_out: int) -> dict:
    from actline.apps.stream.alert_search import curve, pick, search
    from actline.infer.alert_settings import write_alerts

    recogs = [r for r, _ in traces]
    if any(r.classes != recogs[0].classes for r in recogs):
        raise ActlineError(model, "the folds' models have different classes: cannot pool their replays")
    # the probabilities are recorded: any fold's recognizer replays the decisions (classes, thresholds)
    rows = search(recogs[0], [tr for _, tr in traces], kinds, opts.grace_s, progress=opts.progress)
    chosen = pick(rows, opts.max_false_alarms_per_hour, opts.min_recall)
    if not chosen["detected"] and not opts.allow_silent:
        _refuse_silence(chosen, rows, opts)
    trade = ({"min_recall": opts.min_recall} if opts.min_recall is not None
             else {"max_false_alarms_per_hour": opts.max_false_alarms_per_hour})
    doc = {"alerts": chosen["alerts"], "enter": chosen["enter"], "exit": chosen["exit"], "ema": chosen["ema"],
           "events": list(kinds), "trade_off": trade, "measured": chosen,
           "chosen_on": {"data": str(data), "group_by": opts.group_by, "folds": folds, "left_out_recordings": left_out,
                         "recordings": sum(f["recordings"] for f in folds), "hours": sum(f["hours"] for f in folds)},
           "curve": curve(rows),
           "written_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    write_alerts(model, doc, mcfg["classes"])
    return {**doc, "path": str(model / "alerts.json"), "settings_scored": len(rows)}
