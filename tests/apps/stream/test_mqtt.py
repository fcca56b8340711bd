"""Many sensors through a real Mosquitto broker: nothing lost, nothing mixed, bad payloads refused."""

from __future__ import annotations

import json
import struct
import threading
import time

import numpy as np
import pytest

from actline.apps.stream import StreamConfig, StreamingRecognizer
from actline.apps.stream.hub import StreamHub
from actline.apps.stream.intake import parse_shard, shard_of
from actline.apps.stream.payloads import PayloadError, decode, encode_binary, encode_json
from actline.core.errors import ActlineError

from .test_recognizer import CLASSES, FakeRecognizer

RISK = CLASSES[2]
PATTERN = "sensors/+/frames"


def _script(levels: list[float], t0: float = 0.0, fps: float = 10.0):
    return [(t0 + i / fps, np.full((16, 16), v, np.float32)) for i, v in enumerate(levels)]


SCRIPTS = {  # per sensor: (timestamp, frame); each sensor's story differs, so mixing would show
    "S1": _script([20.0] * 30 + [25.0] * 30),
    "S2": _script([30.0] * 40) + _script([20.0] * 20, t0=100.0),  # gone for a minute: its state resets
    "S3": _script([25.0] * 20 + [30.0] * 40),
}
GARBAGE = [b"\x00garbage", b'{"t": 1}', b'{"t": 1, "frame": [[1, 2], [3]]}', b"[NaN]", b'{"t": NaN, "frame": [[1]]}',
           b"ACTF\x01\x01\x10\x00\x10\x00\x00\x00" + struct.pack("<d", 1.0) + b"\x00" * 8]  # too short for 16x16


def _cfg():
    return StreamConfig(every_frames=2, alerts={RISK: 1.0})


def _offline(sensor: str) -> list[dict]:
    sr = StreamingRecognizer(FakeRecognizer(), _cfg(), sensor=sensor)
    return [e.to_dict() for t, f in SCRIPTS[sensor] for e in sr.push(f, t)]


def _client(host, port, cid):
    import paho.mqtt.client as mqtt

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cid)
    c.connect(host, port)
    c.loop_start()
    return c


def _publish(host, port, sensor, items, binary: bool):
    c = _client(host, port, f"pub-{sensor}")
    infos = [c.publish(f"sensors/{sensor}/frames", p if isinstance(p, bytes) else
                       (encode_binary(p[1], p[0], dtype=2) if binary else encode_json(p[1], p[0])), qos=1)
             for p in items]
    for i in infos:
        i.wait_for_publish(10)
    c.disconnect()
    c.loop_stop()


def _wait(cond, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cond(), "timed out"


def _run(broker, hub, sensors_binary: dict[str, bool], garbage: bool = True):
    from actline.apps.stream.mqtt import MqttStream

    host, port = broker
    got: dict[str, list] = {}
    sub = _client(host, port, "listener")
    sub.on_message = lambda c, u, m: got.setdefault(m.topic, []).append(json.loads(m.payload))
    sub.subscribe("actline/+/events", qos=1)
    stream = MqttStream(hub, f"mqtt://{host}:{port}/{PATTERN}")
    hub.emit = stream.publish
    stream.start()
    threads = []
    for sensor, binary in sensors_binary.items():
        items = list(SCRIPTS[sensor])
        if garbage and sensor == "S1":
            items[10:10] = GARBAGE
        if sensor == "S2":  # disconnects after its first stretch and comes back later
            cut = 40
            parts = [items[:cut], items[cut:]]
        else:
            parts = [items]
        threads.append(threading.Thread(target=lambda s=sensor, p=parts, b=binary: [_publish(host, port, s, x, b)
                                                                                  for x in p]))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    want = {s: len(SCRIPTS[s]) for s in sensors_binary}
    _wait(lambda: all(hub.stats.get(s) and hub.stats[s].frames == n for s, n in want.items()))
    n_events = sum(len(_offline(s)) for s in sensors_binary)
    _wait(lambda: sum(len(v) for v in got.values()) >= n_events)
    stream.stop()
    sub.disconnect()
    sub.loop_stop()
    return got


def test_sensors_over_a_real_broker_nothing_lost_or_mixed_and_garbage_refused(broker):
    hub = StreamHub(FakeRecognizer(), _cfg())
    got = _run(broker, hub, {"S1": False, "S2": True, "S3": True})
    for sensor in SCRIPTS:
        assert got[f"actline/{sensor}/events"] == _offline(sensor)  # every event, in order, from its own frames
    s2 = got["actline/S2/events"]
    assert [e["kind"] for e in s2].count("reset") == 1 and {e["sensor"] for e in s2} == {"S2"}
    st = hub.status()
    assert st["errors"] == {"payload": len(GARBAGE)} and st["sensors"]["S1"]["errors"] == {"payload": len(GARBAGE)}
    assert {s for s, v in st["sensors"].items() if v["frames"]} == set(SCRIPTS)
    assert all(e["model"] == got["actline/S1/events"][0]["model"] for v in got.values() for e in v)


class SlowRecognizer:
    """A model that takes 50 ms a call (the first 1 s), whatever the batch: the intake must queue, not drop or block."""

    def __init__(self):
        self.r = FakeRecognizer()
        self.batches = []

    def __getattr__(self, name):
        return getattr(self.r, name)

    def probs(self, windows, rooms=None):
        # the first call takes 1 s, so both publishers' frames are queued behind it even when the machine is
        # busy (two test workers) and one publisher starts late; the later calls take 50 ms
        time.sleep(0.05 if self.batches else 1.0)
        self.batches.append(len(windows))
        return self.r.probs(windows)


def test_a_slow_model_batches_across_sensors_and_loses_nothing(broker):
    slow = SlowRecognizer()
    hub = StreamHub(slow, _cfg())
    got = _run(broker, hub, {"S1": True, "S3": False}, garbage=False)
    for sensor in ("S1", "S3"):
        assert got[f"actline/{sensor}/events"] == _offline(sensor)
    assert max(slow.batches) == 2  # windows of both sensors went through the model together


def test_frames_a_sensor_cannot_take_are_refused_and_counted():
    hub = StreamHub(FakeRecognizer(), _cfg())
    hub.process([("A", 0.0, np.full((16, 16), 20.0)), ("A", 0.1, np.zeros((8, 8))), ("A", -0.5, np.full((16, 16), 20.0)),
                 ("A", 0.2, np.full((16, 16), np.nan)), ("A", 0.3, np.full((16, 16), 20.0))])
    st = hub.status()["sensors"]["A"]
    assert st["frames"] == 2 and st["errors"] == {"frame": 3}


def test_a_sensor_whose_window_cannot_be_cut_is_counted_and_the_others_go_on():
    hub = StreamHub(FakeRecognizer(), _cfg())
    hub.process([(s, 0.0, np.full((16, 16), 20.0)) for s in ("A", "B")])

    def broken():
        raise ActlineError("stream", "too few frames")

    hub.sensors["A"].window = broken
    hub.process([(s, i / 10, np.full((16, 16), 20.0)) for i in range(1, 40) for s in ("A", "B")])
    st = hub.status()["sensors"]
    assert st["A"]["model_runs"] == 0 and st["A"]["errors"]["window"] > 0
    assert st["B"]["model_runs"] > 0 and not st["B"]["errors"]


def test_shards_split_sensors_by_a_stable_hash():
    import hashlib

    ids = [f"SL{i}_R{j}" for i in range(20) for j in range(3)]
    assert shard_of("SL14", 7) == int(hashlib.sha256(b"SL14").hexdigest()[:16], 16) % 7
    hubs = [StreamHub(FakeRecognizer(), _cfg(), shard=parse_shard(f"{k}/3")) for k in range(3)]
    for h in hubs:
        h.process([(s, 0.0, np.full((16, 16), 20.0)) for s in ids])
    taken = [set(h.sensors) for h in hubs]
    assert set().union(*taken) == set(ids) and sum(map(len, taken)) == len(ids) and all(taken)
    for bad in ("3/3", "x", "1/0"):
        with pytest.raises(ActlineError, match="--shard"):
            parse_shard(bad)


def test_the_binary_header_byte_by_byte():
    pixels = [[2000, -27320], [3650, 1999], [0, 4500]]  # centi-degrees: a sentinel among them
    payload = (b"ACTF" + bytes([1, 2]) + (3).to_bytes(2, "little") + (2).to_bytes(2, "little") + b"\x00\x00"
               + struct.pack("<d", 1718000000.25) + b"".join(v.to_bytes(2, "little", signed=True) for r in pixels for v in r))
    t, frame = decode(payload)
    assert t == 1718000000.25 and frame.shape == (3, 2) and frame.dtype == np.float32
    np.testing.assert_allclose(frame, np.array(pixels) / 100, atol=1e-5)
    assert encode_binary(frame, t, dtype=2) == payload
    t2, f2 = decode(encode_binary(frame, t))  # float32 form
    assert t2 == t and np.array_equal(f2, frame)
    for bad, why in [(payload[:-1], "needs"), (payload[:4] + b"\x02" + payload[5:], "version"),
                     (payload[:5] + b"\x07" + payload[6:], "dtype"), (b"ACTF\x01", "header")]:
        with pytest.raises(PayloadError, match=why):
            decode(bad)


def test_the_status_endpoint_and_metrics_per_sensor():
    import urllib.error
    import urllib.request

    from actline.apps.stream.status import serve_status

    hub = StreamHub(FakeRecognizer(), _cfg())
    hub.process([("S9", t, f) for t, f in SCRIPTS["S3"]] + [("S9", b"junk")])
    with pytest.raises(ActlineError, match="beyond loopback"):
        serve_status(hub, "0.0.0.0", 0, token="")
    server = serve_status(hub, "127.0.0.1", 0, token="s3cret")
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert json.loads(urllib.request.urlopen(base + "/healthz").read()) == {"ok": True, "sensors": 1}
        with pytest.raises(urllib.error.HTTPError, match="401"):
            urllib.request.urlopen(base + "/status")
        auth = {"Authorization": "Bearer s3cret"}
        st = json.loads(urllib.request.urlopen(urllib.request.Request(base + "/status", headers=auth)).read())
        s9 = st["sensors"]["S9"]
        assert s9["last_frame_t"] == pytest.approx(SCRIPTS["S3"][-1][0]) and s9["state"] == RISK and s9["fps"] > 0
        text = urllib.request.urlopen(urllib.request.Request(base + "/metrics", headers=auth)).read().decode()
        assert 'actline_stream_frames_total{sensor="S9"} 60.0' in text
        assert f'actline_stream_state{{sensor="S9",state="{RISK}"}} 1.0' in text
        assert 'actline_stream_refused_frames_total{reason="payload",sensor="S9"} 1.0' in text
    finally:
        server.shutdown()


def test_the_broker_url():
    from actline.apps.stream.mqtt import parse_broker_url

    u = parse_broker_url("mqtts://home@broker.local:8884/care/+/thermal")
    assert (u.host, u.port, u.tls, u.user, u.pattern) == ("broker.local", 8884, True, "home", "care/+/thermal")
    assert u.sensor_of("care/SL14/thermal") == "SL14" and u.sensor_of("care/SL14/other") is None
    for bad, why in [("mqtt://u:pw@h:1/a/+", "no password"), ("mqtt://h:1/a/#", "one '\\+'"),
                     ("mqtt://h:1/a/+/+", "one '\\+'"), ("http://h/a/+", "mqtt://")]:
        with pytest.raises(ActlineError, match=why):
            parse_broker_url(bad)


def test_a_webhook_is_retried_and_never_blocks(tmp_path):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from actline.apps.stream.sinks import WebhookSink
    from actline.infer.stream_config import Event

    got, calls = [], []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            calls.append(1)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if len(calls) == 1:  # the first attempt fails: the sink retries
                self.send_response(503)
            else:
                got.append(json.loads(body))
                self.send_response(200)
            self.end_headers()

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sink = WebhookSink(f"http://127.0.0.1:{server.server_address[1]}/hook", timeout=2, backoff=0.01)
    events = [Event("state", float(i), RISK, 0.9, sensor="S1", model="m") for i in range(3)]
    for e in events:
        sink.emit(e)
    sink.close()
    server.shutdown()
    assert got == [e.to_dict() for e in events] and sink.sent == 3 and sink.failed == 0
    dead = WebhookSink("http://127.0.0.1:9/never", timeout=0.2, retries=2, backoff=0.01)
    dead.emit(events[0])  # returns at once; the failure is counted, not raised
    dead.close()
    assert dead.failed == 1
    with pytest.raises(ActlineError, match="http"):
        WebhookSink("ftp://x")


def test_the_stream_command_follows_mqtt_sensors(broker, small_model_and_recording, tmp_path, one_thread):
    from actline.cli import main
    from actline.data.formats import load_recording

    host, port = broker
    model, rec_path = small_model_and_recording
    rec = load_recording(rec_path)
    log = tmp_path / "events.jsonl"
    args = ["stream", str(model), "--mqtt", f"mqtt://{host}:{port}/cli/+/frames", "--max-seconds", "6", "--events",
            str(log), "--enter", "0.3", "--exit", "0.2", "--state", str(tmp_path / "state")]
    runner = threading.Thread(target=main, args=(args,))
    runner.start()
    time.sleep(1.5)
    c = _client(host, port, "cli-pub")
    for sensor in ("K1", "K2"):
        for t, f in zip(rec.timestamps[:100], rec.frames[:100]):
            c.publish(f"cli/{sensor}/frames", encode_binary(f, t), qos=1).wait_for_publish(5)
    c.publish("cli/K1/frames", b"junk", qos=1).wait_for_publish(5)
    c.disconnect()
    runner.join(30)
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert {e["sensor"] for e in lines} == {"K1", "K2"}
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == ["K1", "K2"]
