"""`actline train --out RUN` never clobbers a run by accident, and a run with metrics.json is complete."""

import json
import os

import pytest

from actline.core.errors import ActlineError
from actline.runs.rundir import CLIP, RunDir

ASK = "use --resume to continue or --overwrite to start again"


def _unfinished(run):
    (run / "checkpoints" / "seed0").mkdir(parents=True)
    (run / "checkpoints" / "seed0" / "state.json").write_text("{}")
    (run / "run.json").write_text(json.dumps({"data": "somewhere"}))
    return run


def test_an_unfinished_run_is_refused_and_kept(tmp_path):
    run = _unfinished(tmp_path / "run")
    with pytest.raises(ActlineError, match="an unfinished run: " + ASK):
        RunDir(run, CLIP).prepare()
    assert (run / "checkpoints" / "seed0" / "state.json").is_file()
    RunDir(run, CLIP).prepare(resume=True)  # what the message offers works
    RunDir(run, CLIP).prepare(overwrite=True)
    RunDir(run, CLIP).start({"data": "elsewhere"})  # the old run goes once the new one starts
    assert not (run / "checkpoints").exists() and json.loads((run / "run.json").read_text())["data"] == "elsewhere"


def test_a_finished_run_is_refused_the_same_way(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text("{}")
    with pytest.raises(ActlineError, match="a finished run: " + ASK):
        RunDir(run, CLIP).prepare()
    with pytest.raises(ActlineError, match="nothing to resume"):
        RunDir(run, CLIP).prepare(resume=True)
    assert (run / "metrics.json").is_file()


def test_the_cli_refuses_with_one_line_and_exit_2(tmp_path, capsys):
    from actline.cli import main

    run = _unfinished(tmp_path / "run")
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--data", str(tmp_path / "nowhere"), "--out", str(run)])
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and ASK in err and len(err.splitlines()) == 1
    assert (run / "checkpoints" / "seed0" / "state.json").is_file()


@pytest.mark.slow
def test_metrics_json_is_written_last(small_data, tmp_path, monkeypatch, one_thread):
    from actline.runs.clip_run import train_run
    from actline.train.config import TrainConfig

    renamed = []  # every file actline writes goes through an atomic rename
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (real(a, b), renamed.append(os.path.basename(b)))[0])
    run = tmp_path / "run"
    train_run(small_data, run, TrainConfig(window=16, epochs=1, batch_size=16, split="given", num_threads=1))
    assert renamed[-1] == "metrics.json" and renamed.count("metrics.json") == 1
    last = (run / "metrics.json").stat().st_mtime_ns
    assert all(p.stat().st_mtime_ns <= last for p in run.rglob("*") if p.is_file())
