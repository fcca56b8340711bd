"""Alert settings: the recorded replay decides exactly as live, alerts.json is used, overridden, checked and served."""

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest

from actline.apps.stream.alert_search import alert_times, pick, states, trace_recording
from actline.apps.stream.replay import replay_frames
from actline.cli import main
from actline.core.errors import ActlineError
from actline.data.formats import load_recording
from actline.infer import Recognizer
from actline.infer.alert_settings import ALERTS, write_alerts
from actline.infer.stream_config import StreamConfig
from actline.infer.streaming import StreamingRecognizer
from actline.modeldir.directory import add_file, read_config


@pytest.fixture(scope="module")
def model_copy(small_model_and_recording, tmp_path_factory):
    model, rec = small_model_and_recording
    dst = tmp_path_factory.mktemp("alerts") / "model"
    shutil.copytree(model, dst)
    return dst, rec


def test_recorded_decisions_alert_exactly_as_a_live_replay(small_model_and_recording, one_thread):
    model, path = small_model_and_recording
    recog = Recognizer.load(model)
    rec = load_recording(path)
    ts = rec.timestamps.copy()
    ts[150:] += 5.0  # a gap longer than the window: the stream resets mid-recording
    rec.timestamps = ts
    tr = trace_recording(recog, rec)
    assert tr.gaps and len(tr.times) > 20
    checked = 0
    for ema, enter, exit_ in [(0.5, 0.34, 0.3), (1.0, 0.36, 0.2), (0.3, 0.35, 0.33)]:
        state, since = states(recog, tr, ema, enter, exit_)
        for cls in recog.classes:
            for hold in (0.0, 0.5, 2.0):
                live = StreamingRecognizer(recog, StreamConfig(ema=ema, enter=enter, exit=exit_, alerts={cls: hold}))
                events = replay_frames(live, rec.frames, rec.timestamps)
                want = [e.t for e in events if e.kind == "alert"]
                got = alert_times(tr, state, since, [recog.classes.index(cls)], hold)
                assert np.allclose(got, want), (ema, enter, cls, hold, got, want)
                checked += len(want)
    assert checked > 10  # the settings raised alerts to compare


def test_alerts_json_is_taken_overridden_and_checked(model_copy, capsys, one_thread):
    model, rec = model_copy
    classes = read_config(model)["classes"]
    write_alerts(model, {"alerts": {"c1": 0.0}, "enter": 0.34, "exit": 0.3, "ema": 1.0}, classes)
    assert ALERTS in json.loads((model / "checksums.json").read_text())
    main(["stream", str(model), "--replay", str(rec), "--speed", "0"])
    text = capsys.readouterr().out
    assert f"alert setting: {model / ALERTS}" in text and "alert  c1" in text
    main(["stream", str(model), "--replay", str(rec), "--speed", "0", "--alert", "c2=0", "--enter", "0.34"])
    text = capsys.readouterr().out
    assert "options given replace parts" in text and "alert  c1" not in text
    # a setting naming a class the model lacks, a negative hold, or a file changed after writing: one line, exit 2
    for doc, words in [({"alerts": {"fall": 1.0}}, "'fall' is not a class of this model"),
                       ({"alerts": {"c1": -1.0}}, "alerts.c1: the hold must be seconds >= 0")]:
        text = json.dumps({"format": "actline-alerts/1", **doc})
        add_file(model, ALERTS, lambda p, text=text: p.write_text(text))
        with pytest.raises(SystemExit) as exc:
            main(["stream", str(model), "--replay", str(rec), "--speed", "0"])
        err = capsys.readouterr().err
        assert exc.value.code == 2 and words in err and str(model / ALERTS) in err and len(err.strip().splitlines()) == 1
    with pytest.raises(ActlineError, match="not a class of this model"):
        write_alerts(model, {"alerts": {"fall": 1.0}}, classes)  # never written
    write_alerts(model, {"alerts": {"c1": 1.0}}, classes)
    (model / ALERTS).write_text((model / ALERTS).read_text().replace("1.0", "2.0"))
    with pytest.raises(SystemExit):
        main(["stream", str(model), "--replay", str(rec), "--speed", "0"])
    assert "checksum mismatch" in capsys.readouterr().err


def test_serve_reports_the_alert_setting(model_copy):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from actline.apps.serve import ServeConfig, create_app

    model, _ = model_copy
    write_alerts(model, {"alerts": {"c2": 3.0}, "enter": 0.7, "exit": 0.5}, read_config(model)["classes"])
    with TestClient(create_app([model], ServeConfig()), base_url="http://127.0.0.1") as client:
        info = client.get("/v1/model").json()["classifier"]
    assert info["alerts"]["alerts"] == {"c2": 3.0} and info["alerts"]["enter"] == 0.7


def _row(recall, fa, hold):
    return {"alerts": {"lie": hold}, "ema": 0.5, "enter": 0.6, "exit": 0.4, "recall": recall, "events": 10,
            "detected": int(recall / 10), "false_alarms_per_hour": fa, "delay_median_s": 1.0}


def test_the_trade_off_picks_or_says_what_is_closest():
    rows = [_row(90, 3.0, 0.0), _row(70, 0.9, 1.0), _row(60, 0.2, 2.0), _row(20, 0.0, 5.0)]
    assert pick(rows, max_fa=1.0)["recall"] == 70
    assert pick(rows, max_fa=0.0)["recall"] == 20
    assert pick(rows, min_recall=65)["false_alarms_per_hour"] == 0.9
    with pytest.raises(ActlineError, match=r"no setting reaches 95 % recall.*closest: 90\.0 % at 3\.00 false alarms"):
        pick(rows, min_recall=95)
    with pytest.raises(ActlineError, match=r"under 0\.1 per hour.*closest: 0\.20 per hour at 60\.0 % recall \(lie=2"):
        pick(rows[:3], max_fa=0.1)


def test_a_setting_that_alerts_on_no_event_is_not_written_unless_allowed(model_copy, monkeypatch):
    """On little data the best setting at one false alarm an hour may never alert: a fall detector that looks
    quiet and fine. `alerts choose` refuses it in one line naming the cheapest setting that does alert."""
    import actline.apps.stream.alert_search as search_mod
    from actline.apps.stream.alert_choose import ChooseOptions, _decide

    model, _ = model_copy
    mcfg = read_config(model)
    c = mcfg["classes"][0]
    rows = [{**_row(*r), "alerts": {c: r[2]}} for r in [(0, 0.0, 5.0), (60, 2.5, 1.0), (90, 6.0, 0.0)]]
    monkeypatch.setattr(search_mod, "search", lambda *a, **k: rows)
    fake = type("R", (), {"classes": mcfg["classes"]})()
    args = (model, "DATA", mcfg)
    rest = ([(fake, None)], [{"recordings": 2, "hours": 0.5}], {c: [(c,)]}, 0)
    opts = ChooseOptions(max_false_alarms_per_hour=1.0)
    (model / ALERTS).unlink(missing_ok=True)
    with pytest.raises(ActlineError, match=r"alerts on none of the 10 held-out events, so nothing was written; "
                                           r"the fewest false alarms with an alert: 2\.50 per hour at 60\.0 % recall"):
        _decide(*args, opts, *rest)
    assert not (model / ALERTS).exists()
    doc = _decide(*args, replace(opts, allow_silent=True), *rest)
    assert (model / ALERTS).exists() and doc["measured"]["detected"] == 0
    assert pick(rows, max_fa=3.0)["detected"] == 6  # a looser trade-off alerts, and is written without --allow-silent
