"""Kill `actline train-timeline` part-way, `--resume` it, and get the model an uninterrupted run gives."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from safetensors.numpy import load_file

from tests.conftest import TIMELINE_ARGS


@pytest.mark.slow
def test_a_killed_timeline_run_resumes_to_the_uninterrupted_model(timeline_model, rgb, tmp_path):
    run = tmp_path / "killed"
    cmd = [sys.executable, "-m", "actline.cli", "train-timeline"]
    proc = subprocess.Popen([*cmd, str(rgb / "clips"), "--out", str(run), "--cache", str(rgb / "cache"), *TIMELINE_ARGS],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = run / "checkpoints" / "stage1" / "state.json"
    deadline = time.time() + 300
    while time.time() < deadline:
        if state.is_file() and json.loads(state.read_text())["epoch"] >= 3:
            break
        assert proc.poll() is None, "training ended before it could be interrupted"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = json.loads(state.read_text())["epoch"]
    assert 3 <= killed_at < 30 and not (run / "config.json").exists()  # no model yet, only checkpoints

    done = subprocess.run([*cmd, "--resume", str(run), "--quiet"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert not (run / "checkpoints").exists()  # removed once the model is written
    got, want = (json.loads((d / "metrics.json").read_text()) for d in (run, timeline_model))
    got.pop("train_time_s"), want.pop("train_time_s")
    assert got == want
    history = json.loads((run / "history.json").read_text())["stage1"]
    assert [r["epoch"] for r in history] == list(range(1, len(history) + 1))
    for part in ("stage1", "stage2/mount", "stage2/apply"):
        a, b = (load_file(str(d / part / "model.safetensors")) for d in (run, timeline_model))
        assert all(np.array_equal(a[k], b[k]) for k in b), part

    again = subprocess.run([*cmd, "--resume", str(run)], capture_output=True, text=True)
    assert again.returncode == 2 and "nothing to resume" in again.stderr
