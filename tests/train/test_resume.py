"""Kill a real training process part-way, resume it, and get what an uninterrupted run gets."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from actline.core.errors import ActlineError
from actline.runs.clip_run import train_run
from actline.train.config import load_config

# Both runs happen on the same machine with the same thread count, so their floating-point sums come in the
# same order and resuming must reproduce the uninterrupted run exactly; this checks determinism, not an
# accuracy, and holds on any CPU (checked with num_threads 1 and 2 on 2026-11-30).
SETTINGS = ["epochs=6", "window=16", "batch_size=16", "num_threads=1", "seed=5"]


def _predictions(run):
    with open(run / "predictions.csv") as fh:
        return [(r["sample_id"], r["pred"], float(r["confidence"])) for r in csv.DictReader(fh)]


@pytest.mark.slow
def test_resume_after_kill_matches_an_uninterrupted_run(synth_dir, tmp_path):
    straight = tmp_path / "straight"
    want = train_run(synth_dir, straight, load_config(None, SETTINGS))
    assert not (straight / "checkpoints").exists()  # removed once the run is complete

    run = tmp_path / "killed"
    cmd = [sys.executable, "-m", "actline.cli", "train", "--data", str(synth_dir), "--out", str(run), "--quiet"]
    proc = subprocess.Popen(cmd + [a for s in SETTINGS for a in ("--set", s)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    state = run / "checkpoints" / "seed5" / "state.json"
    deadline = time.time() + 300
    while time.time() < deadline:
        if state.is_file() and json.loads(state.read_text())["epoch"] >= 2:
            break
        assert proc.poll() is None, "training ended before it could be interrupted"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = json.loads(state.read_text())["epoch"]
    assert 2 <= killed_at < 6 and not (run / "metrics.json").exists()

    subprocess.run([sys.executable, "-m", "actline.cli", "train", "--resume", str(run), "--quiet"], check=True,
                   capture_output=True)
    got = json.loads((run / "metrics.json").read_text())
    for k in ("top1", "mean_class_accuracy", "macro_f1"):
        assert got[k] == pytest.approx(want[k], abs=1e-6), k
    a, b = _predictions(straight), _predictions(run)
    assert [x[:2] for x in a] == [x[:2] for x in b]
    assert max(abs(x[2] - y[2]) for x, y in zip(a, b)) <= 1e-4  # confidences as written (4 decimals)
    history = json.loads((run / "history.json").read_text())[0]["history"]
    assert [r["epoch"] for r in history] == list(range(1, 7))
    p = subprocess.run([sys.executable, "-m", "actline.cli", "train", "--resume", str(run)], capture_output=True,
                       text=True)
    assert p.returncode == 2 and "nothing to resume" in p.stderr


def test_a_run_started_before_the_room_gate_or_its_parts_resumes_without_them(tmp_path):
    from actline.runs.rundir import CLIP, RunDir

    def resumed(config_yaml: str):
        run = tmp_path / str(len(list(tmp_path.iterdir())))
        run.mkdir()
        (run / "run.json").write_text('{"data": "somewhere"}')
        (run / "config.yaml").write_text(config_yaml)
        cfg = RunDir(run, CLIP).resumed_settings([]).config
        return cfg.room_gate.threshold, cfg.room_gate.fallback, cfg.room_gate.measure, cfg.room_gate.shape

    old = "model: thermal_r2plus1d_lite\nbackground: none\n"
    assert resumed(old) == (0.0, "none", "fingerprint", "none")  # saved by 0.3.1: no gate
    assert resumed(old + "room_gate: 0.3\n") == (0.3, "none", "fingerprint", "none")  # 0.4.0: no fallback CNN
    v05 = old + "room_gate: 0.3\ngate_fallback: static-heat\n"
    assert resumed(v05) == (0.3, "static-heat", "fingerprint", "none")  # 0.5: the room measure before highpass-residual
    assert resumed(v05 + "room_measure: highpass-residual\n") == (0.3, "static-heat", "highpass-residual", "none")
    v06 = "window: {background: none}\nroom_gate: {threshold: 0.3, fallback: static-heat, measure: highpass-residual"
    assert resumed(v06 + "}\n") == (0.3, "static-heat", "highpass-residual", "none")  # grouped, before the shape trees
    assert resumed(v06 + ", shape: static-heat}\n") == (0.3, "static-heat", "highpass-residual", "static-heat")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "run.json").write_text('{"data": "somewhere"}')
    (bad / "config.yaml").write_text("- a list\n")
    with pytest.raises(ActlineError, match="config.yaml: not a mapping of settings"):
        RunDir(bad, CLIP).resumed_settings([])
