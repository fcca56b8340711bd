"""The docs' falls route (benchmarks/nagoya_alerts_route.sh), end to end on a small Nagoya-like data set: train on
two days with the "none" class, choose the alert setting on those two days alone, replay the third as live."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from actline.data.labels.review_queue import read_items
from tests.apps.stream.nagoya_like import write_nagoya_like

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_the_nagoya_route_runs_through_the_command_line(tmp_path):
    data = write_nagoya_like(tmp_path / "data", per_day=2, seconds=30)
    out = tmp_path / "out"
    env = {**os.environ, "DATA": str(data), "OUT": str(out), "ACTLINE": f"{sys.executable} -m actline.cli",
           "TRAIN_SET": "--set epochs=1 --set num_threads=1", "PYTHONPATH": str(ROOT / "src"),
           # a model trained for one epoch on two minutes may alert on no fall, which alerts choose refuses to
           # write by default; this test is about the route, not the setting
           "TRADE_OFF": "--max-false-alarms-per-hour 1 --allow-silent"}
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "nagoya_alerts_route.sh")], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    model = out / "train" / "model"
    config = json.loads((model / "config.json").read_text())
    assert config["classes"][-1] == "none" and config["training"]["background_class"] == "none"
    assert "alerts.json" in json.loads((model / "checksums.json").read_text())
    setting = json.loads((model / "alerts.json").read_text())
    assert set(setting["alerts"]) <= {"falling1", "falling2", "lie"} and setting["events"] == ["fall"]
    # the folds are the two training days, one held out each: the reported day never takes part
    on = setting["chosen_on"]
    assert [f["held_out"] for f in on["folds"]] in (([["20170203"], ["20170206"]]), [["20170206"], ["20170203"]])
    assert on["left_out_recordings"] == 2 and on["recordings"] == 4
    for k in (0, 1):
        split = json.loads((out / "folds" / f"fold{k}" / "split.json").read_text())
        assert not any(r.startswith("20170209") for side in ("train", "eval") for r in split[side]["recordings"])
    choose = (out / "choose.txt").read_text()
    assert "chosen" in choose and "recall / false alarms per hour of fall" in choose
    report = (out / "report.txt").read_text()
    assert f"(from {model / 'alerts.json'})" in report and "baseline" in report and "95 % interval" in report
    assert "false alarms of fall by room" in report and "20170209" in report
    # --held-out: the recordings the training run held out (here the reported day), the same alert setting
    held = subprocess.run([sys.executable, "-m", "actline.cli", "evaluate-stream", str(model), "--data", str(data),
                           "--held-out", "--json", "--quiet"], env=env, capture_output=True, text=True, timeout=120)
    rep = json.loads(held.stdout)
    assert rep["recordings"] == 2 and rep["alerts"] == setting["alerts"] and rep["alerts_from"].endswith("alerts.json")
    items = read_items(out / "review")
    assert items and {i.source for i in items} <= {"false-alarm", "miss"}
    assert all(i.recording.startswith("20170209") for i in items)
