"""evaluate-stream: the replay is the live path, events come from the annotation, falls on Nagoya include the lie."""

import json
import re

import numpy as np
import pytest

from actline.apps.stream.event_replay import annotated_events, frame_labels
from actline.cli import main
from tests.conftest import shared_path


@pytest.fixture(scope="module")
def synth_model(synth_dir, tmp_path_factory):
    import torch

    from actline.data.formats import load_dataset
    from actline.modeldir.directory import save_model_dir
    from actline.models import create_model

    ds = load_dataset(synth_dir)
    h, w = next(iter(ds.recordings.values())).frames.shape[1:]
    torch.manual_seed(1)
    model = create_model("thermal_r2plus1d", num_classes=len(ds.classes)).eval()
    cfg = {"pipeline": "clip-classifier", "arch": model.arch, "classes": ds.classes,
           "window": {"length": 16, "mode": "index", "fps": 10.0, "background": "recording-median"},
           "preprocessing": {"frame_shape": [h, w]}}
    return save_model_dir(tmp_path_factory.mktemp("m") / "model", model, cfg), ds


def test_evaluate_stream_reports_events_states_and_a_picture(synth_model, synth_dir, tmp_path, capsys, one_thread):
    model, ds = synth_model
    risk = next(c for c in ds.classes if "risk" in c)
    main(["evaluate-stream", str(model), "--data", str(synth_dir), "--alert", f"{risk}=1", "--enter", "0.2", "--exit", "0.1",
          "--plot", str(tmp_path / "t.png"), "--json"])
    rep = json.loads(capsys.readouterr().out)
    assert rep["recordings"] == len(ds.recordings) and set(rep["events"]) == {risk}
    n_events = sum(len(annotated_events(risk, frame_labels(ds, r), r.timestamps - r.timestamps[0], ds.classes))
                   for r in ds.recordings.values())
    assert rep["events"][risk]["model"]["events"] == rep["events"][risk]["baseline"]["events"] == n_events > 0
    assert set(rep["states"]) == set(ds.classes)
    assert (tmp_path / "t.png").stat().st_size > 5000
    main(["evaluate-stream", str(model), "--data", str(synth_dir), "--alert", f"{risk}=1"])  # the table
    text = capsys.readouterr().out
    assert "false alarms / h" in text and "time outside events" in text
    assert f"alerts: {risk} held 1 s" in text and "{" not in text  # the alerts read as words, not a Python dict
    # 4 recordings of 60 s: the figure rests on minutes, and says so
    assert re.search(r"4 recordings, 4\.0 min replayed", text), text
    assert re.search(r"warning: false alarms per hour rest on as little as [\d.]+ (s|min) outside events "
                     r"\(under 1 h\)", text), text


@pytest.mark.slow
def test_nagoya_falls_are_fall_plus_lie():
    from actline.data.nagoya import read_nagoya, segment_counts

    root = shared_path("nagoya-fir16")
    ds = read_nagoya(root, days=["20170209"])
    counts = segment_counts(root, days=["20170209"])
    spans = [e for r in ds.recordings.values() for e in annotated_events(
        "fall", r.frame_labels, r.timestamps - r.timestamps[0], ds.classes)]
    assert len(spans) == counts["falling1"] + counts["falling2"]
    lengths = np.array([b - a for a, b in spans])
    assert lengths.min() > 1.5 and np.median(lengths) > 3.0  # the lie that follows is part of the event


def test_every_false_alarm_listed_by_room_and_collected(synth_model, synth_dir, tmp_path, capsys, one_thread):
    from actline.data.labels.review_queue import read_items
    from actline.data.recordings.thermal_h5_file import location_of

    model, ds = synth_model
    risk = next(c for c in ds.classes if "risk" in c)
    queue = tmp_path / "queue"
    every = [a for c in ds.classes for a in ("--alert", f"{c}=0")]  # every class alerts as soon as it is the state
    main(["evaluate-stream", str(model), "--data", str(synth_dir), *every, "--enter", "0", "--exit", "0",
          "--collect", str(queue), "--json"])
    rep = json.loads(capsys.readouterr().out)
    alarms, total = rep["false_alarms"], sum(p["model"]["false_alarms"] for p in rep["events"].values())
    assert len(alarms) == total > 0
    for a in alarms:
        assert a["recording"] in ds.recordings and a["location"] == location_of(a["recording"])
        assert a["alert"] in ds.classes and "state_before" in a and "annotated" in a
    for kind, rows in rep["false_alarms_by_location"].items():
        assert sum(r["false_alarms"] for r in rows) == rep["events"][kind]["model"]["false_alarms"]
        assert sum(r["hours_outside"] for r in rows) == pytest.approx(rep["events"][kind]["model"]["hours_outside"])
        lo, hi = rep["events"][kind]["model"]["false_alarms_per_hour_95"]
        assert lo <= rep["events"][kind]["model"]["false_alarms_per_hour"] <= hi
    missed = sum(p["model"]["events"] - p["model"]["detected"] for p in rep["events"].values())
    items = read_items(queue)
    assert rep["collected"] == {"dir": str(queue), "false-alarm": total, "miss": missed}
    assert len(items) == total + missed and {i.source for i in items} == {"false-alarm", "miss"} - (
        set() if missed else {"miss"})
    first = next(i for i in items if i.source == "false-alarm")
    match = [a for a in alarms if a["recording"] == first.recording]
    assert any(first.start_s <= a["t"] <= first.end_s + 0.2 for a in match)  # the window ends at its alert
    main(["evaluate-stream", str(model), "--data", str(synth_dir), *every, "--enter", "0", "--exit", "0"])
    text = capsys.readouterr().out
    assert f"false alarms of {risk} by room" in text and "every false alarm" in text and "state before" in text


def test_the_events_a_setting_was_chosen_for_are_all_judged(synth_model, synth_dir, tmp_path, capsys, one_thread):
    """alerts.json chosen for two events but alerting on one class: the other event is judged too (all missed),
    never dropped from the report; --alert replaces the setting's classes and its events with them."""
    import shutil

    from actline.infer.alert_settings import write_alerts

    model, ds = synth_model
    model = shutil.copytree(model, tmp_path / "model")
    risk = next(c for c in ds.classes if "risk" in c)
    other = next(c for c in ds.classes if c != risk and any(
        len(annotated_events(c, frame_labels(ds, r), r.timestamps - r.timestamps[0], ds.classes))
        for r in ds.recordings.values()))
    write_alerts(model, {"alerts": {risk: 1.0}, "events": [risk, other, "no such event"]}, ds.classes)
    main(["evaluate-stream", str(model), "--data", str(synth_dir), "--json", "--quiet"])
    rep = json.loads(capsys.readouterr().out)
    assert set(rep["events"]) == {risk, other}
    assert rep["events"][other]["model"]["events"] > 0 and rep["events"][other]["model"]["detected"] == 0
    main(["evaluate-stream", str(model), "--data", str(synth_dir), "--alert", f"{risk}=1", "--json", "--quiet"])
    assert set(json.loads(capsys.readouterr().out)["events"]) == {risk}
