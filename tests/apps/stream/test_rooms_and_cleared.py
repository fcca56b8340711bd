"""Over a real Mosquitto broker: each sensor starts from its own empty room (bad ones refused at start),
and an alert that ends is published as a ``cleared`` event with its duration."""

from __future__ import annotations

import json

import numpy as np
import pytest

from actline.apps.stream import StreamConfig, StreamingRecognizer, load_state, save_state
from actline.apps.stream.hub import StreamHub
from actline.apps.stream.payloads import encode_binary
from actline.data.thermal_h5 import write_recording_h5
from actline.infer import Recognizer

from .test_mqtt import _client, _wait
from .test_recognizer import CLASSES, FakeRecognizer, GatedClassifier
from .test_record import _publish_raw, _stream

RISK = CLASSES[2]
FIELDS = {"sensor", "t", "kind", "label", "confidence", "model", "detail"}


def _room(level: float, n: int = 40, shape=(16, 16), seed: int = 0) -> np.ndarray:
    return (level + np.random.default_rng(seed).normal(0, 0.1, (n, *shape))).astype(np.float32)


def _npz(path, frames):
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, frames=frames, timestamps=np.arange(len(frames)) / 10)
    return path


def test_each_mqtt_sensor_starts_from_its_own_empty_room(broker, tmp_path):
    from actline.apps.stream.empty_room import EmptyRooms

    host, port = broker
    rooms = tmp_path / "rooms"
    rooms.mkdir()
    write_recording_h5(rooms / "E1.h5", _room(18.0), 1_700_000_000_000 + np.arange(40) * 100, "E1")  # <sensor>.h5
    _npz(rooms / "E2" / "morning.npz", _room(21.0, seed=1))  # a folder per sensor: all its files
    _npz(rooms / "E2" / "evening.npz", _room(21.5, seed=2))
    (rooms / "notes.txt").write_text("not a recording")
    e3 = _npz(tmp_path / "e3.npz", _room(19.0, seed=3))
    anyone = _npz(tmp_path / "any.npz", _room(17.0, seed=4))  # every other sensor
    cfg = {"classes": CLASSES, "window": {"length": 8, "mode": "index", "fps": 10.0},
           "preprocessing": {"frame_shape": [16, 16]}}
    recog, sc = Recognizer(GatedClassifier(), cfg), StreamConfig(every_frames=2, alerts={})
    er = EmptyRooms([str(rooms), f"E3={e3}", str(anyone)], recog.frame_shape, sc.background)
    hub = StreamHub(recog, sc, empty_rooms=er)
    stream = _stream(broker, hub, "room")
    for sensor in ("E1", "E2", "E3", "E4"):
        _publish_raw(host, port, "room", sensor, [encode_binary(np.full((16, 16), 25.0), i / 10) for i in range(3)])
    _wait(lambda: all(hub.stats.get(s) and hub.stats[s].frames == 3 for s in ("E1", "E2", "E3", "E4")))
    stream.stop()
    got = {s: float(np.median(hub.sensors[s].bg.room)) for s in ("E1", "E2", "E3", "E4")}
    assert got == pytest.approx({"E1": 18.0, "E2": 21.25, "E3": 19.0, "E4": 17.0}, abs=0.1)
    assert hub.sensors["E1"].bg is not hub.sensors["E4"].bg and not hub.status()["errors"]


@pytest.mark.parametrize("case", ["file", "folder", "sensor", "missing", "twice"])
def test_a_wrong_empty_room_is_refused_at_start_in_one_line(case, broker, small_model_and_recording, tmp_path, capsys):
    from actline.cli import main

    model, _ = small_model_and_recording  # a model of 16x16 frames
    host, port = broker
    small = _npz(tmp_path / "small.npz", _room(20.0, shape=(8, 8)))
    _npz(tmp_path / "rooms" / "S1.npz", _room(20.0))
    bad_in_folder = _npz(tmp_path / "rooms" / "S2" / "day.npz", _room(20.0, shape=(16, 12)))
    args, named, why = {
        "file": ([str(small)], small, "empty-room frames are 8x8, but the model takes 16x16"),
        "folder": ([str(tmp_path / "rooms")], bad_in_folder, "empty-room frames are 16x12"),
        "sensor": ([f"S9={small}"], small, "8x8"),
        "missing": ([str(tmp_path / "nowhere")], tmp_path / "nowhere", "not found"),
        "twice": ([str(tmp_path / "rooms"), f"S1={small}"], small, "a second empty room for sensor 'S1'"),
    }[case]
    argv = ["stream", str(model), "--mqtt", f"mqtt://{host}:{port}/x/+/frames", "--max-seconds", "1"]
    with pytest.raises(SystemExit) as exc:
        main(argv + [a for v in args for a in ("--empty-room", v)])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and "\n" not in err and str(named) in err and why in err


def test_an_alert_that_ends_is_published_as_cleared_with_its_duration(broker):
    host, port = broker
    hub = StreamHub(FakeRecognizer(), StreamConfig(every_frames=2, alerts={RISK: 1.0}))
    got = []
    sub = _client(host, port, "cleared-listener")
    sub.on_message = lambda c, u, m: got.append(json.loads(m.payload))
    sub.subscribe("actline/A1/events", qos=1)
    stream = _stream(broker, hub, "clr")
    script = ([(i / 10, 30.0) for i in range(40)] + [(4 + i / 10, 20.0) for i in range(30)]  # risk, then idle
              + [(100 + i / 10, 30.0) for i in range(30)] + [(200 + i / 10, 20.0) for i in range(10)])  # gaps
    _publish_raw(host, port, "clr", "A1", [encode_binary(np.full((16, 16), v), t) for t, v in script])
    _wait(lambda: [e["kind"] for e in got].count("reset") == 2)
    stream.stop()
    sub.disconnect()
    sub.loop_stop()
    kinds = [e["kind"] for e in got]
    assert kinds == ["state", "alert", "cleared", "state", "state", "reset", "state", "alert", "cleared", "reset", "state"]
    alerts, cleared = [e for e in got if e["kind"] == "alert"], [e for e in got if e["kind"] == "cleared"]
    for a, c in zip(alerts, cleared):
        assert set(c) == FIELDS and c["sensor"] == "A1" and c["label"] == RISK and c["model"] == a["model"]
        assert c["detail"]["duration_s"] == pytest.approx(c["t"] - a["t"], abs=1e-3) and c["detail"]["duration_s"] > 0
    assert cleared[0]["t"] == got[3]["t"] and got[3]["label"] is None  # cleared as the state leaves the alert class
    assert cleared[1]["t"] == pytest.approx(102.9)  # after a gap: at the last frame the alert was seen
    assert hub.status()["sensors"]["A1"]["events"]["cleared"] == 2


def test_a_restarted_stream_clears_its_alert_with_the_whole_duration(tmp_path):
    sr = StreamingRecognizer(FakeRecognizer(), StreamConfig(every_frames=2, alerts={RISK: 1.0}), sensor="A")
    for i in range(40):
        sr.push(np.full((4, 4), 30.0), i / 10)
    alert_t = sr.alert_t
    save_state(tmp_path, sr)
    again = StreamingRecognizer(FakeRecognizer(), StreamConfig(every_frames=2, alerts={RISK: 1.0}), sensor="A")
    load_state(tmp_path, again)
    events = [e for i in range(20) for e in again.push(np.full((4, 4), 20.0), 4 + i / 10)]
    (c,) = [e for e in events if e.kind == "cleared"]
    assert alert_t is not None and c.detail["duration_s"] == pytest.approx(c.t - alert_t, abs=1e-3)


def test_a_replay_takes_its_sensors_room_from_a_folder_or_says_it_has_none(small_model_and_recording, tmp_path,
                                                                              one_thread, capsys):
    from actline.cli import main

    model, rec = small_model_and_recording  # the recording's sensor id is "rec"
    argv = ["stream", str(model), "--replay", str(rec), "--speed", "0"]
    _npz(tmp_path / "rooms" / "other.npz", _room(20.0))
    with pytest.raises(SystemExit) as exc:
        main(argv + ["--empty-room", str(tmp_path / "rooms")])
    assert exc.value.code == 2 and "no empty room for sensor 'rec'" in capsys.readouterr().err
    _npz(tmp_path / "rooms" / "rec" / "empty.npz", _room(20.0))
    main(argv + ["--empty-room", str(tmp_path / "rooms")])
    assert "300 frames" in capsys.readouterr().out
