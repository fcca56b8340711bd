"""Files the stream writes and reads: the failure collection, the events log, the per-sensor state."""

import json

import numpy as np
import pytest

from actline.apps.stream import FailureCollector, StreamConfig, StreamingRecognizer, load_state, save_state
from actline.cli import main
from actline.core.errors import ActlineError

from .still import RISK, fall_recording, rule_recognizer
from .test_recognizer import CLASSES


def test_a_collection_of_other_classes_is_refused_not_relabelled(tmp_path):
    col = FailureCollector(tmp_path / "c", CLASSES)
    col.add(np.zeros((8, 4, 4), np.float32), None, CLASSES[1], 0.3, "low_confidence")
    before = (tmp_path / "c" / "annotations" / "class_mapping.json").read_text()
    with pytest.raises(ActlineError, match="holds classes"):
        FailureCollector(tmp_path / "c", ["walk", "idle", "lying down-lying with risk"])
    assert (tmp_path / "c" / "annotations" / "class_mapping.json").read_text() == before
    assert len(FailureCollector(tmp_path / "c", CLASSES)) == 1  # the same classes append


def test_a_collection_without_its_class_mapping_is_still_checked(tmp_path):
    """train.json records the classes too: losing class_mapping.json must not let another model relabel it."""
    col = FailureCollector(tmp_path / "c", CLASSES)
    col.add(np.zeros((8, 4, 4), np.float32), None, CLASSES[1], 0.3, "low_confidence")
    (tmp_path / "c" / "annotations" / "class_mapping.json").unlink()
    with pytest.raises(ActlineError, match="train.json: this collection holds classes"):
        FailureCollector(tmp_path / "c", list(reversed(CLASSES)))
    assert len(FailureCollector(tmp_path / "c", CLASSES)) == 1


def test_a_corrupt_collection_is_one_line(tmp_path):
    ann = tmp_path / "c" / "annotations"
    ann.mkdir(parents=True)
    (ann / "train.json").write_text('{"images": [', encoding="utf-8")
    with pytest.raises(ActlineError, match="corrupt collection file") as exc:
        FailureCollector(tmp_path / "c", CLASSES)
    assert "\n" not in str(exc.value) and "train.json" in str(exc.value)


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
