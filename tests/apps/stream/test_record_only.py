"""``actline stream --record DIR`` without a model, over a real Mosquitto broker: every sensor recorded at the
frame size it sends, bit for bit with its int64 ms timestamps; a frame of another size refused and counted;
options that need a model refused in one line; a replayed file recorded the same way."""

from __future__ import annotations

import json
import logging
import threading
import urllib.request
from pathlib import Path

import h5py
import numpy as np
import pytest

from actline.apps.stream.payloads import encode_binary
from actline.apps.stream.record_only import RecordingHub
from actline.cli import main
from actline.data.limits import ReadLimits
from actline.data.recordings.recorder import Recorder
from actline.data.thermal_h5 import write_recording_h5

from .test_docs_commands import _free_port
from .test_mqtt import _wait
from .test_record import _publish_raw

T0_MS = 1_765_000_000_000  # 2025-12-06T05:46:40Z


def sensor_frames(shape, n: int, seed: int, clock0_ms: int) -> tuple[np.ndarray, np.ndarray]:
    """n frames of ``shape`` (°C, with a dead pixel) at irregular int64 ms times, with a 4.5 s gap."""
    rng = np.random.default_rng(seed)
    frames = (22 + rng.normal(0, 2, (n, *shape))).astype(np.float32)
    frames[:, 0, 0] = -273.2
    steps = rng.integers(33, 170, n).astype(np.int64)  # 6 to 30 fps
    steps[n // 2] = 4500
    return frames, clock0_ms + np.cumsum(steps)


def written(root: Path, sensor: str) -> tuple[np.ndarray, np.ndarray]:
    """(frames, int64 ms timestamps) of every file recorded for ``sensor``, in order, read as stored."""
    frames, ts = [], []
    for p in sorted((root / "frames").glob(f"{sensor}_*.h5")):
        with h5py.File(p, "r") as fh:
            assert fh["timestamps"].dtype == np.int64 and fh["frames"].dtype == np.float32
            frames.append(fh["frames"][:])
            ts.append(fh["timestamps"][:])
    return np.concatenate(frames), np.concatenate(ts)


def _status(port: int) -> dict:
    try:
        return json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=1).read())
    except OSError:
        return {}


def test_two_sensors_of_different_sizes_are_recorded_bit_for_bit_without_a_model(broker, tmp_path, capsys, caplog):
    host, port = broker
    status = _free_port()
    argv = ["stream", "--mqtt", f"mqtt://{host}:{port}/ro/+/frames", "--record", str(tmp_path / "rec"),
            "--record-minutes", "0.1", "--status-port", str(status), "--max-seconds", "5"]
    runner = threading.Thread(target=main, args=(argv,))
    caplog.set_level(logging.WARNING, "actline.stream")
    runner.start()
    probe = [encode_binary(np.zeros((8, 8), np.float32), 0.0)]
    _wait(lambda: _publish_raw(host, port, "ro", "P0", probe) or "P0" in _status(status).get("sensors", {}))
    big, big_ms = sensor_frames((40, 60), 80, 1, T0_MS)  # a Unix clock
    small, small_ms = sensor_frames((16, 16), 80, 2, 0)  # a clock from 0
    payloads = {"SL14_R9": [encode_binary(f, t / 1000) for f, t in zip(big, big_ms)],
                "K2": [encode_binary(f, t / 1000) for f, t in zip(small, small_ms)]}
    payloads["SL14_R9"].insert(40, encode_binary(small[0], (big_ms[39] + 1) / 1000))  # a 16x16 frame from a 40x60 sensor
    for sensor, sent in payloads.items():
        _publish_raw(host, port, "ro", sensor, sent)
    _wait(lambda: all(_status(status)["sensors"].get(s, {}).get("frames") == 80 for s in payloads))
    st = _status(status)
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{status}/metrics", timeout=5).read().decode()
    runner.join(30)
    assert 'actline_stream_recorded_frames_total{sensor="K2"} 80.0' in metrics and "actline_stream_recording 1.0" in metrics
    a, k = st["sensors"]["SL14_R9"], st["sensors"]["K2"]
    assert (a["frame_size"], k["frame_size"]) == ("40x60", "16x16") and a["errors"] == {"frame_size": 1}
    assert not k["errors"] and st["errors"] == {"frame_size": 1} and "state" not in a and "model_runs" not in a
    rec = st["recording"]
    assert rec["recording"] and rec["stopped"] is None and rec["max_bytes"] is None
    assert rec["sensors"]["SL14_R9"]["frames"] == 80 and rec["sensors"]["K2"]["bytes"] > 0
    for sensor, (frames, ms) in {"SL14_R9": (big, big_ms), "K2": (small, small_ms)}.items():
        got, got_ms = written(tmp_path / "rec", sensor)
        assert got.tobytes() == frames.tobytes()  # bit for bit, the dead pixel too
        np.testing.assert_array_equal(got_ms, ms)
    assert [r.getMessage() for r in caplog.records if "frame_size" in r.getMessage()] == [
        "SL14_R9: frame_size refused (1 so far): a 16x16 frame; this sensor's frames are 40x60 (its first frame's size)"]
    files = sorted((tmp_path / "rec" / "frames").iterdir())
    assert all(p.suffix == ".h5" for p in files) and len(files) > 3  # rotated every 6 s of a sensor's clock
    out, n = capsys.readouterr().out, 160 + st["sensors"]["P0"]["frames"]  # the probes too
    assert f"{n} frames from 3 sensors (1 refused, 0 dropped)" in out
    assert f"recorded {n} frames in {len(files)} files under {tmp_path / 'rec'}/frames (" in out
    assert "model runs" not in out and "SL14_R9  40x60" in out and "K2       16x16" in out


def test_a_replayed_file_is_recorded_without_a_model(tmp_path, capsys):
    frames, ms = sensor_frames((40, 60), 50, 3, T0_MS)
    write_recording_h5(tmp_path / "hall_a.h5", frames, ms, "hall_a")
    main(["stream", "--replay", str(tmp_path / "hall_a.h5"), "--speed", "0", "--record", str(tmp_path / "rec")])
    got, got_ms = written(tmp_path / "rec", "hall_a")
    assert got.tobytes() == frames.tobytes()
    np.testing.assert_array_equal(got_ms, ms)
    out = capsys.readouterr().out
    assert "50 frames from 1 sensors (0 refused, 0 dropped)" in out and "recorded 50 frames in 1 file under" in out


@pytest.mark.parametrize("extra, named", [
    (["--alert", "falling=3"], "--alert"), (["--collect", "queue"], "--collect"),
    (["--empty-room", "room.h5"], "--empty-room"), (["--backend", "onnx"], "--backend"),
    (["--events", "e.jsonl", "--state", "st"], "--state, --events need a MODEL"), ([], "or --record DIR")])
def test_an_option_that_needs_a_model_is_refused_in_one_line(extra, named, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    record = [] if not extra else ["--record", "rec"]
    with pytest.raises(SystemExit) as exc:
        main(["stream", "--mqtt", "mqtt://127.0.0.1:1/s/+/frames", *record, *extra])  # nothing listens on port 1
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and err.count("\n") == 0 and named in err, err
    assert list(tmp_path.iterdir()) == []  # refused before anything was opened


def test_a_sensor_whose_clock_goes_back_or_whose_frames_pass_the_limits_is_refused(tmp_path):
    rec = Recorder(tmp_path)
    hub = RecordingHub(rec, limits=ReadLimits(max_frame_values=300))
    hub.process([("A", 1.0, np.zeros((16, 16), np.float32)), ("A", 0.5, np.ones((16, 16), np.float32)),
                 ("A", 2.0, np.ones((16, 16), np.float32)), ("B", 1.0, np.zeros((20, 20), np.float32))])
    rec.close()
    st = hub.status()
    assert st["sensors"]["A"]["errors"] == {"time": 1} and st["sensors"]["A"]["frames"] == 2
    assert st["sensors"]["B"]["errors"] == {"frame_size": 1} and st["sensors"]["B"]["frame_size"] is None
    assert st["recording"]["sensors"]["A"]["frames"] == 2 and "B" not in st["recording"]["sensors"]
