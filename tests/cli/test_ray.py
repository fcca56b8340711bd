"""`timeline`, `predict` and `cv` with `--ray`, on a real Ray cluster of two nodes started by the tests
(tests/ray_cluster.py), give what a local run gives; a worker killed mid-task is retried and writes nothing twice.

Slow: the cluster takes a few seconds to start and each run starts Ray worker processes that import torch.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np
import pytest

from actline.cli import main
from actline.core.task_map import map_tasks
from actline.infer.outputs import TimelineJob, write_timelines
from tests.data.test_nagoya import _write_csv
from tests.doc_commands import shell_lines, unknown_options
from tests.ray_cluster import DyingJob, chatty, ray_cluster

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cluster():
    with ray_cluster(nodes=2) as address:
        yield address


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    """Four short Nagoya-format recordings (6 to 12 s at 10 fps) of a warm pixel moving across the sensor."""
    root = tmp_path_factory.mktemp("ray-inputs")
    for i, n in enumerate((60, 80, 100, 120)):
        _write_csv(root / f"rec{i}.csv", n)
    return root


def _files(root) -> dict:
    """Every file under ``root`` (hidden ones too: a temporary file left behind would show) with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _run(capsys, argv) -> str:
    capsys.readouterr()
    main(argv)
    return capsys.readouterr().out


@pytest.mark.slow
def test_timeline_on_ray_writes_and_prints_what_a_local_run_does(cluster, thermal_timeline_model, recordings,
                                                                 tmp_path, capsys):
    args = ["timeline", str(thermal_timeline_model), str(recordings), "--format", "json", "--format", "csv",
            "--format", "frames", "--threads", "1", "--quiet", "--json"]
    here = _run(capsys, [*args, "--out", str(tmp_path / "here")])
    there = _run(capsys, [*args, "--out", str(tmp_path / "there"), "--ray", cluster])
    there = there.replace(str(tmp_path / "there"), str(tmp_path / "here"))  # the files it names: in its own --out
    assert json.loads(there) == json.loads(here) and len(json.loads(here)) == 4
    files = _files(tmp_path / "here")
    assert len(files) == 12 and _files(tmp_path / "there") == files


@pytest.mark.slow
def test_a_worker_killed_mid_task_is_retried_and_nothing_is_lost_or_written_twice(cluster, thermal_timeline_model,
                                                                                  recordings, tmp_path, capsys):
    """The worker writing rec2's files dies (os._exit) after its .json and before its .txt and .csv: Ray runs
    the task again, which writes all three under the same names. The outputs and results equal a local run's,
    and the progress bars are the same."""
    settings = dict(model=thermal_timeline_model, formats=("json", "frames", "csv"), threads=1)
    bars_here, bars_there = {}, {}
    here = write_timelines(TimelineJob(out_dir=tmp_path / "here", **settings), [recordings],
                           progress=lambda task, done, total=None: bars_here.__setitem__(task.split(":")[0], done))
    marker = tmp_path / "died"
    job = DyingJob(out_dir=tmp_path / "there", victim="rec2.csv", marker=marker, **settings)
    there = write_timelines(job, [recordings], cluster=cluster,
                            progress=lambda task, done, total=None: bars_there.__setitem__(task.split(":")[0], done))
    assert marker.is_file(), "the worker did not die: the test proved nothing"
    said = capsys.readouterr()  # Ray's word that a worker died goes to stderr: stdout is for results (--json)
    assert "(raylet)" not in said.out and said.out == ""
    def results(rs):
        return [(r.source, r.segments, [p.name for p in r.written]) for r in rs]

    assert results(there) == results(here)
    assert _files(tmp_path / "there") == _files(tmp_path / "here") and len(_files(tmp_path / "here")) == 12
    assert bars_there == bars_here and bars_here["inputs"] == 4 and "features rec2.csv" in bars_here


@pytest.mark.slow
def test_tasks_report_progress_and_log_records_back(cluster):
    events, records = [], []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    logger = logging.getLogger("actline")
    handler, level = Keep(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        out = list(map_tasks(chatty, [1, 2, 3], 10, cluster=cluster, progress=lambda *a: events.append(a),
                             name="items", label=lambda i: f"#{i}"))
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert out == [10, 20, 30]
    assert {("#1 · item 1: step", 3, 3), ("#3 · item 3: step", 3, 3), ("items", 3, 3)} <= set(events)
    assert sorted(re.sub(r" on pid \d+", "", m) for m in records) == [f"item {i} done" for i in (1, 2, 3)]


@pytest.fixture(scope="module")
def clip_model(synth_dir, tmp_path_factory):
    """A clip classifier trained in seconds (window statistics and trees) on the session's synthetic data."""
    run = tmp_path_factory.mktemp("ray-clip") / "run"
    main(["train", "--data", str(synth_dir), "--out", str(run), "--model", "features", "--quiet"])
    return run / "model"


def _queue(folder) -> list:
    """A review queue's items without what differs between two runs (their ids and when they were written)."""
    items = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    return sorted([{k: v for k, v in i.items() if k not in ("id", "written_at")} for i in items],
                  key=lambda i: (i["recording"], i["start_s"]))


@pytest.mark.slow
def test_predict_on_a_folder_on_ray_prints_and_queues_what_a_local_run_does(cluster, clip_model, synth_dir, tmp_path,
                                                                            capsys):
    args = ["predict", str(clip_model), str(synth_dir / "frames"), "--json", "--review-count", "2"]
    here = _run(capsys, [*args, "--review", str(tmp_path / "q-here")])
    there = _run(capsys, [*args, "--review", str(tmp_path / "q-there"), "--ray", cluster])
    lines = [json.loads(x) for x in here.splitlines()]
    assert there == here and len({x["recording"] for x in lines}) == 4 and all("true" in x for x in lines)
    assert _queue(tmp_path / "q-there") == _queue(tmp_path / "q-here") and len(_queue(tmp_path / "q-here")) == 8


def _figures(cv: dict) -> dict:
    """cv.json without the paths (the same here) and anything timed."""
    return {k: v for k, v in cv.items() if k != "data" and "time" not in k and "seconds" not in k}


@pytest.mark.slow
def test_cv_on_ray_gives_the_figures_of_a_local_run(cluster, synth_dir, tmp_path, capsys):
    """The default network, two epochs, one thread: each fold trains in a Ray worker on the data set read from
    Ray's object store (read-only arrays), and every figure equals the local run's."""
    args = ["cv", "--data", str(synth_dir), "--folds", "2", "--set", "epochs=2", "--threads", "1", "--quiet"]
    _run(capsys, [*args, "--out", str(tmp_path / "here")])
    _run(capsys, [*args, "--out", str(tmp_path / "there"), "--ray", cluster])
    here = json.loads((tmp_path / "here" / "cv.json").read_text())
    there = json.loads((tmp_path / "there" / "cv.json").read_text())
    assert _figures(there) == _figures(here) and len(here["per_fold"]) == 2
    for k in range(2):  # each fold's run is whole on both
        m_here = json.loads((tmp_path / "here" / "r0" / f"fold{k}" / "metrics.json").read_text())
        m_there = json.loads((tmp_path / "there" / "r0" / f"fold{k}" / "metrics.json").read_text())
        assert np.isclose(m_there["top1"], m_here["top1"]) and m_there["n"] == m_here["n"]


def test_the_page_on_scale_writes_real_commands_and_options():
    """docs/scale.md's actline lines name commands and options that exist (the Ray tests above run them)."""
    lines = [w for w in shell_lines((ROOT / "docs" / "scale.md").read_text(encoding="utf-8")) if w[0] == "actline"]
    assert len(lines) >= 5 and {w[1] for w in lines} == {"timeline", "predict", "cv", "stream"}
    assert {" ".join(w[:2]): unknown_options(w) for w in lines} == {" ".join(w[:2]): [] for w in lines}
