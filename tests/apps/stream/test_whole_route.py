"""The whole route of "Your recordings", as a care-home team takes it, on synthetic sensors: two ceiling
sensors publish over a real Mosquitto while ``actline stream --record`` keeps their frames (with no model:
a new team has none yet); ``actline data
render`` makes videos for labelling; labels come back as a Label Studio export (made the way the tool writes
it, on video frames, through the render's sidecars) and ``actline data import`` builds a data set; ``actline
data inspect`` reports it; ``actline train`` trains on it; ``actline predict`` loads the model it wrote.

Every command is a real ``actline`` command line; the stream runs as a process of its own, stopped with
Ctrl+C (SIGINT) once its status shows every frame."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from actline.apps.stream.payloads import encode_binary
from actline.cli import main
from actline.data.labels import read_segments_csv, relative_times
from actline.data.recordings.recorder import utc_stamp
from actline.data.recordings.recording_files import read_frames_folder
from actline.data.synth.thermal_set import SynthConfig, generate_thermal_dataset
from actline.data.thermal_h5 import read_recording_h5, read_thermal_dataset
from tests.conftest import mosquitto
from tests.data.test_label_import import frame_labels, known_segments, label_studio_export
from tests.doc_commands import actline_argv, subprocess_env
from tests.support import stream_status

from .test_docs_commands import _free_port
from .test_mqtt import _client

CLASSES = "sitting,walking,lying down-lying with risk,standing"
GAP_AT, GAP_S = 60, 4.5  # one sensor goes quiet for 4.5 s after its 60th frame


def sensors(root: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Two synthetic 40x60 ceiling sensors (``SL4_R3``, ``SL4_R7``): frames in °C (dead pixels at -273.2 in
    one), timestamps in Unix seconds arriving in bursts at irregular rates, one with a gap of several seconds."""
    synth = generate_thermal_dataset(root, SynthConfig(preset="realistic", n_recordings=2, duration_s=30.0, seed=4))
    out = {}
    for k, (name, rec) in enumerate(sorted(read_frames_folder(synth / "frames").items())):
        ts = rec.timestamps.copy()
        if k == 0:
            ts[GAP_AT:] += GAP_S
        out[name] = (ts, rec.frames)
    return out


def _until(cond, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := cond():
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def record(sent: dict, cwd: Path) -> str:
    """``actline stream --mqtt ... --record recordings`` (no model) while the sensors publish, in time order (the
    sensors interleaved) as binary payloads; stopped with Ctrl+C once it has every frame: its stdout."""
    (cwd / "broker").mkdir()
    with mosquitto(cwd / "broker") as (host, port, log):
        status = _free_port()
        argv = ["actline", "stream", "--mqtt", f"mqtt://{host}:{port}/sensors/+/frames",
                "--record", "recordings", "--status-port", str(status), "--max-seconds", "120"]
        proc = subprocess.Popen(actline_argv(argv), cwd=cwd, env=subprocess_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            _until(lambda: " sensors/+/frames" in log.read_text(), "the stream's subscription")
            pub = _client(host, port, "sensors")
            order = sorted((t, s, i) for s, (ts, _) in sent.items() for i, t in enumerate(ts))
            infos = [pub.publish(f"sensors/{s}/frames", encode_binary(sent[s][1][i], t), qos=1) for t, s, i in order]
            for info in infos:
                info.wait_for_publish(10)
            pub.disconnect()
            pub.loop_stop()
            _until(lambda: (st := stream_status(status)) and all(
                st["sensors"].get(s, {}).get("frames") == len(ts) for s, (ts, _) in sent.items()), "every frame")
        finally:
            proc.send_signal(signal.SIGINT)
            stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr[-2000:]
    return stdout


@pytest.mark.slow  # 8-13 s on a shared 2-core machine
def test_record_render_label_import_inspect_train_predict(tmp_path, monkeypatch, capsys, one_thread):
    sent = sensors(tmp_path / "synth")
    total = sum(len(ts) for ts, _ in sent.values())
    out = record(sent, tmp_path)
    assert f"{total} frames from 2 sensors (0 refused, 0 dropped)" in out
    assert f"recorded {total} frames in 2 files under recordings/frames" in out

    # every frame published is in its sensor's file, with the sensor's own timestamps (int64 ms)
    monkeypatch.chdir(tmp_path)
    files = sorted(Path("recordings/frames").iterdir())
    assert [p.name for p in files] == [f"{s}_{utc_stamp(ts[0])}.h5" for s, (ts, _) in sorted(sent.items())]
    for path, (sensor, (ts, frames)) in zip(files, sorted(sent.items())):
        rec = read_recording_h5(path)
        np.testing.assert_array_equal(rec.frames, frames)
        np.testing.assert_array_equal(np.round(rec.timestamps * 1000).astype(np.int64), np.round(ts * 1000))
        assert rec.group == sensor.split("_")[0]

    # render for labelling, label the videos (a Label Studio JSON export), import through the sidecars
    main(["data", "render", "--data", "recordings", "--classes", CLASSES, "--out", "videos", "--quiet"])
    recs = read_frames_folder("recordings/frames")
    truth = known_segments(recs)  # boundaries inside bursts, on a frame, across the gap, and after the last frame
    Path("export.json").write_text(json.dumps(label_studio_export(recs, Path("videos"), truth)))
    main(["data", "import", "--frames", "recordings", "--label-studio", "export.json", "--videos", "videos",
          "--out", "my-data", "--json"])
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["segments"] == len(truth)
    got = read_segments_csv(Path("my-data/annotations/segments.csv"))
    want, have = frame_labels(recs, truth), frame_labels(recs, got)
    assert all((want[n] == have[n]).all() for n in recs)  # every sensor frame carries its segment's label
    ds = read_thermal_dataset("my-data")
    assert ds.classes == CLASSES.split(",") and set(ds.recordings) == set(recs)
    for s in ds.samples:  # each keyframe training reads sits on a frame of its segment, with its class
        assert want[s.recording_id][s.frame_idx] == ds.classes[s.label]
    for name, rec in recs.items():
        np.testing.assert_array_equal(ds.recordings[name].frames, rec.frames)
        np.testing.assert_array_equal(relative_times(ds.recordings[name]), relative_times(rec))

    main(["data", "inspect", "--data", "my-data", "--window", "16", "--json"])
    inspected = json.loads(capsys.readouterr().out)
    assert inspected["n_recordings"] == 2 and inspected["n_samples"] == len(ds.samples)
    assert {r["id"] for r in inspected["recordings"]} == set(recs)
    assert inspected["missing_classes"] == ["standing"] and inspected["class_counts"]["walking"] > 0
    assert [r["gaps_over_1s"] for r in sorted(inspected["recordings"], key=lambda r: r["id"])][0] >= 1

    main(["train", "--data", "my-data", "--out", "run", "--quiet", "--set", "epochs=1", "--set", "window=16",
          "--set", "batch_size=16", "--set", "num_threads=1"])
    assert json.loads(Path("run/metrics.json").read_text())["n"] > 0
    capsys.readouterr()
    main(["predict", "run/model", str(files[0]), "--json"])
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    name = files[0].name.removesuffix(".h5")
    rel = relative_times(recs[name])
    assert lines and {x["recording"] for x in lines} == {name}
    assert all(x["label"] in ds.classes and 0 <= x["time_s"] <= rel[-1] + 1e-3 for x in lines)
