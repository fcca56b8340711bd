"""``kill -9`` of ``actline stream --record`` mid-stream: the closed files are untouched, the open one is
recovered at the next start up to its last flush, and no reader ever sees a half-written file."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import numpy as np

from actline.apps.stream.payloads import encode_binary
from actline.data.formats import find_inputs
from actline.data.recordings.frame_journal import HEADER, read_journal
from actline.data.thermal_h5 import read_recording_h5, read_thermal_dataset
from tests.data.test_recorder import as_dataset

from .test_mqtt import _client, _wait

T0, DT = 1_765_000_000.0, 0.05  # the sensor's clock: 20 fps


def frame(i: int) -> np.ndarray:
    return (20 + np.random.default_rng(i).normal(0, 1, (16, 16))).astype(np.float32)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sha(p) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


class Publisher(threading.Thread):
    """One sensor publishing frames i = 0, 1, ... at 40 a second of wall clock, until stopped."""

    def __init__(self, host, port, topic):
        super().__init__(daemon=True)
        self.client, self.topic, self.stop, self.sent = _client(host, port, "crash-pub"), topic, threading.Event(), 0

    def run(self):
        last = None
        while not self.stop.is_set():
            last = self.client.publish(self.topic, encode_binary(frame(self.sent), T0 + self.sent * DT), qos=1)
            self.sent += 1
            time.sleep(0.025)
        if last is not None:  # every frame counted as sent has reached the broker (a busy machine may lag)
            last.wait_for_publish(10)
        self.client.disconnect()
        self.client.loop_stop()


def test_kill_9_mid_stream_loses_no_closed_file_and_recovers_the_open_one(broker, small_onnx_model, tmp_path):
    host, port = broker
    model = small_onnx_model
    out, frames_dir, status = tmp_path / "rec", tmp_path / "rec" / "frames", _free_port()
    base = [sys.executable, "-m", "actline.cli", "stream", str(model), "--mqtt", f"mqtt://{host}:{port}/crash/+/frames",
            "--record", str(out)]
    proc = subprocess.Popen(base + ["--record-minutes", "0.05", "--record-flush-s", "0.3", "--status-port", str(status)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    pub = Publisher(host, port, "crash/SL14_R9/frames")
    try:
        _wait(lambda: _healthy(status) or proc.poll() is not None, timeout=60)
        pub.start()
        _wait(lambda: len(list(frames_dir.glob("SL14_R9_*.h5"))) >= 2, timeout=30)  # rotated twice: 3 s of sensor time each
        time.sleep(0.6)  # past a flush
        (journal,) = frames_dir.glob(".SL14_R9_*.journal")
        flushed = (journal.stat().st_size - HEADER.size) // (8 + 16 * 16 * 4)  # whole records in the file (a bound)
        closed = {p.name: _sha(p) for p in frames_dir.glob("*.h5")}
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        pub.stop.set()
        pub.join(5)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL and flushed > 0
    # before any recovery, readers see the closed files only, each whole
    assert sorted(p.name for p in find_inputs([frames_dir], "thermal")) == sorted(closed)
    assert all(read_recording_h5(frames_dir / n).n_frames == 60 for n in closed)
    assert len(read_journal(journal)[1]) >= flushed
    again = subprocess.run(base + ["--max-seconds", "0.5"], capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    name = journal.name[1:-len(".journal")]
    assert f"recovered as {name}.h5" in again.stderr
    assert {n: _sha(frames_dir / n) for n in closed} == closed  # the closed files are untouched
    assert not list(frames_dir.glob(".*"))  # no journal, no temporary file left
    recs = sorted((read_recording_h5(p) for p in frames_dir.glob("*.h5")), key=lambda r: r.timestamps[0])
    idx = np.concatenate([np.round((r.timestamps - T0) / DT).astype(int) for r in recs])
    assert np.array_equal(idx, np.arange(idx[0], idx[0] + len(idx)))  # from the first frame taken on, none lost
    np.testing.assert_array_equal(np.concatenate([r.frames for r in recs]), np.stack([frame(i) for i in idx]))
    recovered = next(r for r in recs if r.id == name)
    assert recovered.n_frames >= flushed
    as_dataset(out)
    assert len(read_thermal_dataset(out).recordings) == len(closed) + 1


def _healthy(port: int) -> bool:
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).status == 200
    except OSError:
        return False


def test_sigterm_stops_the_stream_cleanly_with_every_frame_in_whole_files(broker, small_onnx_model, tmp_path):
    """``systemctl stop`` sends SIGTERM: the stream ends as with Ctrl-C, exit 0, the open recording closed whole
    (no journal left for a recovery), every frame taken in the files, the sensors' states saved."""
    host, port = broker
    out, frames_dir, state, status = tmp_path / "rec", tmp_path / "rec" / "frames", tmp_path / "state", _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "actline.cli", "stream", str(small_onnx_model), "--mqtt",
                             f"mqtt://{host}:{port}/term/+/frames", "--record", str(out), "--state", str(state),
                             "--status-port", str(status)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pub = Publisher(host, port, "term/SL2_R1/frames")
    try:
        _wait(lambda: _healthy(status) or proc.poll() is not None, timeout=60)
        pub.start()
        _wait(lambda: _taken(status) >= 40, timeout=30)
        pub.stop.set()
        pub.join(5)
        _wait(lambda: _taken(status) == pub.sent, timeout=10)  # every frame sent has been taken
        os.kill(proc.pid, signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        pub.stop.set()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr[-2000:]
    assert "frames" in stdout
    assert not list(frames_dir.glob(".*"))  # closed whole: no journal, no temporary file
    (only,) = frames_dir.glob("SL2_R1_*.h5")
    rec = read_recording_h5(only)
    assert rec.n_frames == pub.sent
    np.testing.assert_array_equal(rec.frames, np.stack([frame(i) for i in range(pub.sent)]))
    assert list(state.iterdir())  # the stream's state was saved on the way out


def _taken(port: int) -> int:
    import json

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=1) as r:
        return sum(v["frames"] for v in json.load(r)["sensors"].values())
