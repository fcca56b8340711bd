"""Commands that run a trained clip classifier and list the models: predict, models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from actline.cli.app import app
from actline.cli.options import device_option, json_option, ray_option, table_option, threads_option
from actline.cli.render import err, print_json, say
from actline.cli.tables import Table, print_table


@app.command()
def predict(
    model_dir: Path = typer.Argument(..., metavar="MODEL",
                                     help="Model directory (RUN/model), or an exported .onnx file."),
    recordings: list[Path] = typer.Argument(..., metavar="RECORDINGS",
                                            help="Recording files (frames/<sensor_id>.h5), or folders of them "
                                            "(every recording inside, sorted), one or more."),
    stride: Optional[int] = typer.Option(None, help="Sliding windows every STRIDE frames (default: the "
                                         "annotated keyframes if the data set has them, else half a window)."),
    top_k: int = typer.Option(3, help="How many classes to list per window."),
    review: Optional[Path] = typer.Option(None, help="Add the most uncertain windows to this review queue folder."),
    review_count: int = typer.Option(10, min=0, help="How many windows --review adds per recording (lowest top "
                                     "probability)."),
    device: Optional[str] = device_option(),
    threads: int = threads_option(),
    ray: Optional[str] = ray_option("recordings"),
    as_json: bool = json_option("Print one JSON line per window (with its recording) instead of a table."),
    _table: Optional[str] = table_option(),
):
    """Predict actions for the keyframes or sliding windows of recordings."""
    from actline.infer.recording_predictions import PredictJob, predict_files

    job = PredictJob(model_dir, stride, top_k, review_count if review is not None else 0, device or "auto", threads)
    job.recognizer()  # a bad model is refused before anything runs
    for result in predict_files(job, recordings, cluster=ray):
        _print_predictions(result, review, as_json)


def _print_predictions(r, review: Optional[Path], as_json: bool) -> None:
    """One recording's predictions as a table (or JSON lines), after what was added to the review queue and
    whether its room is new (messages: on stderr under --json, so stdout stays one prediction per line)."""
    name, room = r.path.name, r.room
    if review is not None:
        from actline.infer.review_windows import add_windows

        ids = add_windows(review, r.review, data=r.data)
        say(f"{name}: {len(ids)} uncertain windows added to the review queue {review}")
    if room is not None:
        err.print(f"{name}: room {'NEW' if room['new'] else 'familiar'} (similarity {room['similarity']:.2f} "
                  f"to the nearest training room; new below {room['new_below']:g})"
                  + (f": {room['advice']}" if room["new"] else ""), highlight=False)
    if as_json:  # time_s from the recording's first frame, as in the table; timestamp_s on the recording's clock
        for idx, t, p in r.preds:
            print(json.dumps({"recording": r.recording, "frame_idx": idx, "time_s": round(t - r.t0, 3),
                              "timestamp_s": round(t, 3), **p.to_dict(),
                              **({"true": r.truth[idx]} if idx in r.truth else {}),
                              **({"new_room": room["new"], "room_similarity": room["similarity"]} if room else {})}))
        return
    t = Table(f"{name}: {len(r.preds)} windows ({'keyframes' if r.keyframes else 'sliding'})",
              [">frame", ">time s", "prediction", ">conf", "top-k", *(["true"] if r.truth else [])])
    for idx, ts, p in r.preds:
        row = [str(idx), f"{ts - r.t0:.1f}", p.label, f"{p.confidence:.2f}",
               ", ".join(f"{c} {v:.2f}" for c, v in p.topk[1:])]
        if r.truth:
            row.append(r.truth.get(idx, ""))
        t.add_row(*row)
    print_table(t)


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
