"""Interrupt `actline train-timeline` (a killed process in stage 1, an exception in stage 2), `--resume` it,
and get the model an uninterrupted run gives; refuse what a resumed or a new run must not do."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from safetensors.numpy import load_file

from actline.core.errors import ActlineError
from actline.runs.timeline_run import timeline_settings, train_timeline
from tests.conftest import TIMELINE_ARGS, TIMELINE_SETTINGS

CMD = [sys.executable, "-m", "actline.cli", "train-timeline"]


def _same_model(run, reference) -> None:
    got, want = (json.loads((d / "metrics.json").read_text()) for d in (run, reference))
    got.pop("train_time_s"), want.pop("train_time_s")
    assert got == want
    history = json.loads((run / "history.json").read_text())["stage1"]
    assert [r["epoch"] for r in history] == list(range(1, len(history) + 1))
    for part in ("stage1", "stage2/mount", "stage2/apply"):
        a, b = (load_file(str(d / part / "model.safetensors")) for d in (run, reference))
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in b), part
    assert not (run / "checkpoints").exists()  # removed once the model is written


def _epoch(state) -> int:
    try:
        return json.loads(state.read_text())["epoch"]
    except (OSError, ValueError):  # not written yet, or being replaced
        return 0


@pytest.mark.slow
def test_a_killed_timeline_run_resumes_to_the_uninterrupted_model(timeline_model, rgb, tmp_path):
    run = tmp_path / "killed"
    proc = subprocess.Popen([*CMD, "--data", str(rgb / "clips"), "--out", str(run), "--cache", str(rgb / "cache"),
                             *TIMELINE_ARGS],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = run / "checkpoints" / "stage1" / "state.json"
    deadline = time.time() + 300
    while time.time() < deadline and _epoch(state) < 3:
        assert proc.poll() is None, "training ended before it could be interrupted"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 3 <= _epoch(state) < 30 and not (run / "config.json").exists()  # no model yet, only checkpoints

    p = subprocess.run([*CMD, "--resume", str(run), "--set", "epochs=31"], capture_output=True, text=True)
    assert p.returncode == 2 and "keeps its settings" in p.stderr and "epochs" in p.stderr
    p = subprocess.run([*CMD, "--data", str(rgb / "clips"), "--out", str(run), *TIMELINE_ARGS], capture_output=True,
                       text=True)
    assert p.returncode == 2 and "unfinished run" in p.stderr and "--resume" in p.stderr  # a new run is refused
    done = subprocess.run([*CMD, "--resume", str(run), "--quiet", "--device", "cpu"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    _same_model(run, timeline_model)
    again = subprocess.run([*CMD, "--resume", str(run)], capture_output=True, text=True)
    assert again.returncode == 2 and "nothing to resume" in again.stderr


class Interrupted(Exception):
    pass


@pytest.mark.slow
def test_a_run_interrupted_in_stage_2_resumes_to_the_uninterrupted_model(timeline_model, rgb, tmp_path):
    """Stage 1 is finished and taken from its checkpoint; stage 2 stops inside an epoch whose checkpoint was
    not written yet, so the resumed run must redo that epoch exactly."""
    run = tmp_path / "run"
    data, out, cfg = timeline_settings(rgb / "clips", run, None, [*TIMELINE_SETTINGS, f"cache_dir={rgb / 'cache'}"])

    def stop_in_stage_2(task, done, total):
        if task == "stage 2 mount" and done == 5:
            raise Interrupted

    with pytest.raises(Interrupted):
        train_timeline(data, out, cfg, progress=stop_in_stage_2)
    assert _epoch(run / "checkpoints" / "stage2" / "mount" / "state.json") == 4
    data, out, cfg = timeline_settings(None, None, resume=run)
    train_timeline(data, out, cfg, resume=True)
    _same_model(run, timeline_model)


def test_new_runs_refuse_an_occupied_out_and_resume_needs_a_run(rgb, tmp_path):
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine")
    cfg = timeline_settings(rgb / "clips", occupied, None, list(TIMELINE_SETTINGS))[2]
    with pytest.raises(ActlineError, match="holds files: use --overwrite"):
        train_timeline(rgb / "clips", occupied, cfg)  # refused before any backbone or feature work
    assert (occupied / "notes.txt").read_text() == "mine" and not (occupied / "checkpoints").exists()
    with pytest.raises(ActlineError, match="nothing to resume"):
        timeline_settings(None, None, resume=occupied)
    with pytest.raises(ActlineError, match="give the data and --out"):
        timeline_settings(rgb / "clips", None)
