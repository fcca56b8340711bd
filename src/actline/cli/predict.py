"""Commands that run a trained clip classifier and list the models: predict, models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from actline.cli.app import app
from actline.cli.options import device_option, json_option, table_option, threads_option
from actline.cli.render import err, print_json, say
from actline.cli.tables import Table, print_table
from actline.core.errors import ActlineError


@app.command()
def predict(
    model_dir: Path = typer.Argument(..., metavar="MODEL",
                                     help="Model directory (RUN/model), or an exported .onnx file."),
    recordings: list[Path] = typer.Argument(..., metavar="RECORDINGS",
                                            help="Recording files (frames/<sensor_id>.h5), one or more."),
    stride: Optional[int] = typer.Option(None, help="Sliding windows every STRIDE frames (default: the "
                                         "annotated keyframes if the data set has them, else half a window)."),
    top_k: int = typer.Option(3, help="How many classes to list per window."),
    review: Optional[Path] = typer.Option(None, help="Add the most uncertain windows to this review queue folder."),
    review_count: int = typer.Option(10, min=0, help="How many windows --review adds per recording (lowest top "
                                     "probability)."),
    device: Optional[str] = device_option(),
    threads: int = threads_option(),
    as_json: bool = json_option("Print one JSON line per window (with its recording) instead of a table."),
    _table: Optional[str] = table_option(),
):
    """Predict actions for the keyframes or sliding windows of recordings."""
    from actline.infer import Recognizer

    rec_obj = Recognizer.load(model_dir, device=device or "auto", threads=threads)
    for recording in recordings:
        _predict_one(rec_obj, recording, stride, top_k, review, review_count, as_json)


def _predict_one(rec_obj, recording: Path, stride, top_k: int, review, review_count: int, as_json: bool) -> None:
    from actline.data.thermal_h5 import read_recording_h5

    rec = read_recording_h5(recording)
    centres, truth = None, {}
    if stride is None:
        centres, truth = _keyframes_for(recording, rec)
    preds = rec_obj.predict_recording(rec, centres=centres, stride=stride, k=top_k)
    t0 = float(rec.timestamps[0])
    if review is not None:  # a message: on stderr under --json
        from actline.infer.review_windows import queue_uncertain

        ids = queue_uncertain(rec_obj, rec, preds, review, review_count, data=_dataset_root(recording))
        say(f"{recording.name}: {len(ids)} uncertain windows added to the review queue {review}")
    room = rec_obj.room_report(rec.empty_room())
    if room is not None:  # a message: on stderr, so --json output stays one prediction per line
        err.print(f"{recording.name}: room {'NEW' if room['new'] else 'familiar'} (similarity {room['similarity']:.2f} "
                  f"to the nearest training room; new below {room['new_below']:g})"
                  + (f": {room['advice']}" if room["new"] else ""), highlight=False)
    if as_json:  # time_s from the recording's first frame, as in the table; timestamp_s on the recording's clock
        for idx, t, p in preds:
            print(json.dumps({"recording": rec.id, "frame_idx": idx, "time_s": round(t - t0, 3),
                              "timestamp_s": round(t, 3), **p.to_dict(),
                              **({"true": truth[idx]} if idx in truth else {}),
                              **({"new_room": room["new"], "room_similarity": room["similarity"]} if room else {})}))
        return
    t = Table(f"{recording.name}: {len(preds)} windows ({'keyframes' if centres else 'sliding'})",
              [">frame", ">time s", "prediction", ">conf", "top-k", *(["true"] if truth else [])])
    for idx, ts, p in preds:
        row = [str(idx), f"{ts - t0:.1f}", p.label, f"{p.confidence:.2f}",
               ", ".join(f"{c} {v:.2f}" for c, v in p.topk[1:])]
        if truth:
            row.append(truth.get(idx, ""))
        t.add_row(*row)
    print_table(t)


def _dataset_root(recording: Path) -> Path | None:
    """The ThermalDataGen directory holding this recording (``DIR/frames/<recording>.h5``), if it is in one."""
    root = recording.resolve().parent.parent
    return root if (root / "annotations" / "class_mapping.json").is_file() else None


def _keyframes_for(recording: Path, rec):
    """Annotated keyframes of this recording when it sits in a ThermalDataGen directory."""
    root = _dataset_root(recording)
    if root is None:
        return None, {}
    from actline.data.thermal_h5 import read_thermal_dataset

    try:
        ds = read_thermal_dataset(root)
    except ActlineError:
        return None, {}
    samples = sorted((s for s in ds.samples if s.recording_id == rec.id), key=lambda s: s.frame_idx)
    if not samples:
        return None, {}
    return [s.frame_idx for s in samples], {s.frame_idx: ds.classes[s.label] for s in samples}


@app.command("models")
def models_cmd(as_json: bool = json_option("Print the list as JSON."), _table: Optional[str] = table_option()):
    """List the models: clip classifiers (`actline train --model NAME`) and the temporal models of timelines
    (`actline train-timeline --set temporal_model=NAME`); the default of each is marked."""
    from actline.models.registry import list_models, model_info
    from actline.train.config import NON_TORCH_MODELS, TrainConfig
    from actline.train.timeline_fit import TimelineConfig

    clip_default, timeline_default = TrainConfig().model, TimelineConfig().temporal_model
    rows = []
    for n in list_models():
        info = model_info(n)
        timeline = info.kind == "sequence"
        rows.append({"name": n, "pipeline": "timeline" if timeline else "clip-classifier", "kind": info.kind,
                     "input": info.input, "default": n == (timeline_default if timeline else clip_default)})
    rows += [{"name": n, "pipeline": "clip-classifier", "kind": "recipe", "input": "thermal", "default": False}
             for n in NON_TORCH_MODELS]
    rows.sort(key=lambda r: (r["pipeline"] != "clip-classifier", not r["default"], r["kind"] == "recipe", r["name"]))
    if as_json:
        return print_json(rows)
    t = Table("models (* the default of its pipeline)", ["name", "pipeline", "kind", "input", "chosen by"])
    for r in rows:
        how = "train --model" if r["pipeline"] == "clip-classifier" else "train-timeline --set temporal_model="
        t.add_row(r["name"] + (" *" if r["default"] else ""), r["pipeline"], r["kind"], r["input"], how)
    print_table(t)
