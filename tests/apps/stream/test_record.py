"""``--record`` and the stream's intake over a real Mosquitto broker: recordings read back equal to what was
sent, rotate, stop at their cap while the stream goes on; the intake drops what does not fit, by reason."""

from __future__ import annotations

import json
import urllib.request

import numpy as np
import pytest

from actline.apps.stream import StreamConfig
from actline.apps.stream.hub import StreamHub
from actline.apps.stream.payloads import decode, encode_binary, encode_json
from actline.data.recordings.recorder import RecordConfig, Recorder
from actline.data.thermal_h5 import read_recording_h5

from .test_mqtt import _client, _wait
from .test_recognizer import CLASSES, FakeRecognizer

RISK = CLASSES[2]
T0 = 1_765_000_000.0  # 2025-12-06T05:46:40Z


def _frames(n: int, level: float, seed: int) -> np.ndarray:
    return (level + np.random.default_rng(seed).normal(0, 0.05, (n, 16, 16))).astype(np.float32)


def _stream(broker, hub, prefix: str, **kw):
    from actline.apps.stream.mqtt import MqttStream

    host, port = broker
    stream = MqttStream(hub, f"mqtt://{host}:{port}/{prefix}/+/frames", **kw)
    hub.emit = stream.publish
    return stream.start()


def _recorded(root, sensor: str) -> list:
    return [read_recording_h5(p) for p in sorted((root / "frames").glob(f"{sensor}_*.h5"))]


def test_mqtt_sensors_are_recorded_as_sent_and_rotate(broker, tmp_path):
    host, port = broker
    rec = Recorder(tmp_path, RecordConfig(minutes=0.05))  # 3 s of sensor time per file
    hub = StreamHub(FakeRecognizer(), StreamConfig(every_frames=2, alerts={}), recorder=rec)
    stream = _stream(broker, hub, "rec")
    sent = {"SL14_R9": [encode_binary(f, T0 + i / 10) for i, f in enumerate(_frames(70, 20.0, 0))],  # a Unix clock
            "K2": [encode_json(f, i / 10) for i, f in enumerate(_frames(70, 25.0, 1))]}  # JSON, a clock from 0
    for sensor, good in sent.items():
        _publish_raw(host, port, "rec", sensor, good[:5] + [b"junk", b'{"t": 1}'] + good[5:])  # junk: refused
    _wait(lambda: all(hub.stats.get(s) and hub.stats[s].frames == 70 for s in sent))
    stream.stop()
    rec.close()
    for sensor, good in sent.items():
        files = _recorded(tmp_path, sensor)
        assert [r.n_frames for r in files] == [30, 30, 10]  # a file every 3 s of the sensor's clock
        want = [decode(p) for p in good]  # what the sensor sent (JSON holds 3 decimals)
        np.testing.assert_array_equal(np.concatenate([r.frames for r in files]), np.stack([f for _, f in want]))
        ms = np.round(np.concatenate([r.timestamps for r in files]) * 1000)
        np.testing.assert_array_equal(ms, np.round(np.array([t for t, _ in want]) * 1000))
        assert {r.group for r in files} == {sensor.split("_")[0]}
    assert [p.name[:24] for p in sorted((tmp_path / "frames").glob("SL14_R9_*.h5"))][0] == "SL14_R9_20251206T054640Z"
    assert hub.status()["recording"]["files"] == 6


def _publish_raw(host, port, prefix, sensor, payloads):
    c = _client(host, port, f"pub-{prefix}-{sensor}")
    for info in [c.publish(f"{prefix}/{sensor}/frames", p, qos=1) for p in payloads]:
        info.wait_for_publish(10)
    c.disconnect()
    c.loop_stop()


def _get(url: str) -> dict:
    return json.loads(urllib.request.urlopen(url, timeout=5).read())


def test_the_cap_stops_recording_the_stream_goes_on_and_status_says_so(broker, tmp_path):
    from actline.apps.stream.status import serve_status

    host, port = broker
    rec = Recorder(tmp_path, RecordConfig(max_bytes=20_000))  # about 19 frames of 16x16
    hub = StreamHub(FakeRecognizer(), StreamConfig(every_frames=2, alerts={RISK: 1.0}), recorder=rec)
    got = []
    sub = _client(host, port, "cap-listener")
    sub.on_message = lambda c, u, m: got.append(json.loads(m.payload))
    sub.subscribe("actline/C1/events", qos=1)
    stream = _stream(broker, hub, "cap")
    server = serve_status(hub, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        frames = np.repeat(np.array([20.0] * 30 + [30.0] * 50, np.float32), 256).reshape(80, 16, 16)  # idle, then risk
        frames[:, 0, 0] = np.arange(80)  # one pixel tells the frames apart (the fake model reads the median)
        _publish_raw(host, port, "cap", "C1", [encode_binary(f, T0 + i / 10) for i, f in enumerate(frames)])
        _wait(lambda: hub.stats.get("C1") and hub.stats["C1"].frames == 80)
        _wait(lambda: any(e["kind"] == "alert" for e in got))  # events still flow after recording stopped
        st = _get(base + "/status")
        assert st["sensors"]["C1"]["frames"] == 80 and st["sensors"]["C1"]["state"] == RISK
        r = st["recording"]
        assert not r["recording"] and "the cap of 20 kB (--record-max-gb) is reached" in r["stopped"]
        assert 10 < r["frames"] < 20 and r["not_recorded"] == 80 - r["frames"]
        text = urllib.request.urlopen(base + "/metrics").read().decode()
        assert "actline_stream_recording 0.0" in text
    finally:
        stream.stop()
        server.shutdown()
        sub.disconnect()
        sub.loop_stop()
    rec.close()
    (only,) = _recorded(tmp_path, "C1")
    np.testing.assert_array_equal(only.frames, frames[:r["frames"]])


class SlowRecognizer:
    def __init__(self):
        self.r = FakeRecognizer()

    def __getattr__(self, name):
        return getattr(self.r, name)

    def probs(self, windows, rooms=None):
        import time

        time.sleep(0.05)
        return self.r.probs(windows)


def test_the_intake_queue_is_capped_in_bytes_and_drops_are_counted_by_reason(broker):
    from actline.apps.stream.payloads import MAX_PAYLOAD_BYTES

    host, port = broker
    hub = StreamHub(SlowRecognizer(), StreamConfig(every_frames=1, alerts={}))
    one = len(encode_binary(np.zeros((16, 16)), 0.0))
    stream = _stream(broker, hub, "q", max_bytes=3 * one)  # room for three frames
    frames = _frames(80, 20.0, 4)
    _publish_raw(host, port, "q", "Q1", [encode_binary(f, i / 10) for i, f in enumerate(frames)]
                 + [b"A" * (MAX_PAYLOAD_BYTES + 1)])
    _publish_raw(host, port, "q", "", [encode_binary(frames[0], 0.0)])  # q//frames: no sensor id
    _wait(lambda: (hub.stats.get("Q1") and hub.stats["Q1"].frames) + sum(hub.dropped.values()) == 82)
    stream.stop()
    st = hub.status()
    assert st["dropped"]["queue_bytes"] > 0 and st["dropped"]["too_large"] == 1 and st["dropped"]["topic"] == 1
    assert st["sensors"]["Q1"]["frames"] + st["dropped"]["queue_bytes"] == 80 and not st["errors"]


def test_a_record_of_a_replay_reads_back_as_the_file_it_replayed(small_model_and_recording, tmp_path, one_thread,
                                                                  capsys):
    from actline.cli import main
    from actline.data.formats import load_recording

    model, path = small_model_and_recording
    main(["stream", str(model), "--replay", str(path), "--speed", "0", "--record", str(tmp_path / "rec"),
          "--record-minutes", "0.2"])
    src = load_recording(path)
    files = _recorded(tmp_path / "rec", "rec")
    assert [r.n_frames for r in files] == [120, 120, 60]  # 30 s in files of 12 s
    np.testing.assert_array_equal(np.concatenate([r.frames for r in files]), src.frames)
    np.testing.assert_array_equal(np.concatenate([r.timestamps for r in files]), src.timestamps)
    assert files[0].id == "rec_20231114T221320Z"
    assert f"recorded 300 frames in 3 files under {tmp_path / 'rec'}/frames" in capsys.readouterr().out


@pytest.mark.parametrize("bad", ["minutes", "max-gb", "queue"])
def test_bad_recording_and_queue_settings_exit_in_one_line(bad, broker, small_model_and_recording, tmp_path, capsys):
    from actline.cli import main

    model, _ = small_model_and_recording
    host, port = broker
    extra = {"minutes": ["--record", str(tmp_path), "--record-minutes", "0"],
             "max-gb": ["--record", str(tmp_path), "--record-max-gb", "-1"],
             "queue": ["--queue-bytes", "0"]}[bad]
    with pytest.raises(SystemExit) as exc:
        main(["stream", str(model), "--mqtt", f"mqtt://{host}:{port}/b/+/frames", "--max-seconds", "1", *extra])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and err.count("\n") == 0 and ("--record" in err or "--queue-bytes" in err)


def test_the_summary_counts_what_the_intake_dropped(broker, small_onnx_model, capsys):
    import threading
    import time

    from actline.cli import main

    from .test_docs_commands import _free_port

    host, port = broker
    status = _free_port()
    argv = ["stream", str(small_onnx_model), "--mqtt", f"mqtt://{host}:{port}/sum/+/frames", "--max-seconds", "4",
            "--queue-bytes", "100", "--status-port", str(status)]  # under one 16x16 frame: every frame is dropped
    runner = threading.Thread(target=main, args=(argv,))
    runner.start()

    def dropped() -> int:
        try:
            return _get(f"http://127.0.0.1:{status}/status")["dropped"].get("queue_bytes", 0)
        except OSError:
            return 0

    probe = [encode_binary(np.zeros((16, 16)), 0.0)]
    _wait(lambda: _publish_raw(host, port, "sum", "D1", probe) or dropped() > 0, timeout=20)  # subscribed
    time.sleep(0.3)
    before = dropped()
    _publish_raw(host, port, "sum", "D1", [encode_binary(np.zeros((16, 16)), i / 10) for i in range(25)])
    runner.join(30)
    n = before + 25
    assert f"0 frames from 0 sensors (0 refused, {n} dropped: queue_bytes {n})" in capsys.readouterr().out
