"""Files the stream writes and reads: the review items it collects, the events log, the per-sensor state."""

import json

import numpy as np
import pytest

from actline.apps.stream import FailureCollector, StreamConfig, StreamingRecognizer, load_state, save_state
from actline.cli import main
from actline.core.errors import ActlineError

from .still import RISK, fall_recording, rule_recognizer
from .test_recognizer import CLASSES


def test_stream_collect_adds_review_items_the_queue_reads(tmp_path, small_model_and_recording, one_thread):
    from actline.data.labels.review_queue import read_item_frames, read_items
    from actline.data.thermal_h5 import read_recording_h5

    model, rec = small_model_and_recording
    queue = tmp_path / "queue"
    main(["stream", str(model), "--replay", str(rec), "--speed", "0", "--collect", str(queue), "--every", "4"])
    items = read_items(queue)
    assert items and all(i.source in ("uncertain", "collect") and i.answer is None for i in items)
    recording = read_recording_h5(rec)
    sha = json.loads((model / "config.json").read_text())["weights_sha256"]
    for item in items[:3]:
        frames, ts = read_item_frames(queue, item.id)
        assert frames.shape == (8, 16, 16) and item.recording == recording.id and item.model == sha
        first = int(np.searchsorted(recording.timestamps, ts[0]))  # the sensor clock; the frames as recorded
        assert np.array_equal(frames, recording.frames[first:first + 8])
        assert item.start_s == pytest.approx(ts[0] - recording.timestamps[0]) and item.end_s >= item.start_s
        assert [c for c, _ in item.top3] != [] and set(c for c, _ in item.top3) <= {"c0", "c1", "c2"}
    # a second run adds, and never rewrites, the first run's items
    before = {p.name: p.read_bytes() for p in queue.iterdir()}
    main(["stream", str(model), "--replay", str(rec), "--speed", "0", "--collect", str(queue), "--every", "4"])
    assert all((queue / name).read_bytes() == data for name, data in before.items())
    assert len(read_items(queue)) == min(2 * len(items), 1000)


def test_the_collector_stops_at_its_cap(tmp_path):
    col = FailureCollector(tmp_path / "q", CLASSES, max_items=2)
    for _ in range(3):
        col.add(np.zeros((8, 4, 4), np.float32), np.arange(8) * 0.1, [0.4, 0.3, 0.3], "low_confidence")
    assert len(col) == 2 and len(list((tmp_path / "q").glob("*.json"))) == 2
    assert FailureCollector(tmp_path / "q", CLASSES, max_items=2).add(
        np.zeros((8, 4, 4), np.float32), np.arange(8) * 0.1, [0.4, 0.3, 0.3], "low_confidence") is None


def test_any_sensor_id_is_collected_under_a_safe_name_and_a_bad_window_does_not_stop_the_stream(tmp_path):
    from actline.data.labels.review_queue import read_items

    col = FailureCollector(tmp_path / "q", CLASSES)
    assert col.add(np.zeros((8, 4, 4), np.float32), np.arange(8) * 0.1, [0.4, 0.3, 0.3], "low_confidence",
                   recording="../ward 3/SL14:a") is not None
    assert [i.recording for i in read_items(tmp_path / "q")] == ["ward-3-SL14-a"]
    assert col.add(np.full((8, 4, 4), np.nan, np.float32), np.arange(8) * 0.1, [0.4, 0.3, 0.3],
                   "low_confidence", recording="SL14") is None  # refused (one warning), the stream goes on
    assert len(col) == 1


def test_the_events_log_is_appended_not_truncated(tmp_path, small_model_and_recording, one_thread):
    model, rec = small_model_and_recording
    log = tmp_path / "events.jsonl"
    log.write_text('{"kind": "earlier"}\n', encoding="utf-8")
    for _ in range(2):
        main(["stream", str(model), "--replay", str(rec), "--speed", "0", "--events", str(log), "--alert", "c1=0",
              "--enter", "0.3", "--exit", "0.2"])
    lines = [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines()]
    assert lines[0] == {"kind": "earlier"} and len(lines) > 1
    runs = lines[1:]
    assert runs[: len(runs) // 2] == runs[len(runs) // 2:]  # the second run appended the same events


def test_the_state_survives_a_restart_with_a_still_person(tmp_path):
    frames, times, rest = fall_recording(lie_s=120.0)
    cut = int(np.searchsorted(times, rest + 60.0))
    sr = StreamingRecognizer(rule_recognizer(), StreamConfig(every_frames=8, alerts={RISK: 10.0}), sensor="SL1/x")
    for f, t in zip(frames[:cut], times[:cut]):
        sr.push(f, float(t))
    assert sr.state == RISK and sr.alerted
    saved = save_state(tmp_path, sr)
    assert saved.name.startswith("s-")  # a sensor id that is no safe file name is hashed
    again = StreamingRecognizer(rule_recognizer(), StreamConfig(every_frames=8, alerts={RISK: 10.0}), sensor="SL1/x")
    assert "restored" in load_state(tmp_path, again)
    np.testing.assert_array_equal(again.bg.room, sr.bg.room)
    events = [e for f, t in zip(frames[cut:], times[cut:]) for e in again.push(f, float(t))]
    assert events == [] and again.state == RISK  # no new state, no second alert: it carried on
    (saved / "state.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ActlineError, match="not a stream state"):
        load_state(tmp_path, again)
