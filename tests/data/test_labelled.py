"""Segments, the keyframe rule and labelled data sets (actline.data.labels)."""

import json
import multiprocessing
from pathlib import Path

import numpy as np
import pytest

from actline.core.errors import ActlineError
from actline.data.dataset import Recording
from actline.data.labels import (
    KeyframeRule,
    LabelledSegment,
    dataset_version,
    keyframes,
    read_segments_csv,
    segments_from_keyframes,
    update_dataset,
    validate_segments,
    write_labelled_dataset,
    write_segments_csv,
)
from actline.data.segments import Segment, segments_to_frames
from actline.data.thermal_h5 import read_thermal_dataset

CLASSES = ["sitting", "standing", "walking"]


def irregular_recording(name: str, seconds: float = 30.0, seed: int = 0, shape=(6, 8)) -> Recording:
    """Bursts at ~25 fps with pauses and one 3 s gap, on a sensor clock far from zero (whole milliseconds)."""
    rng = np.random.default_rng(seed)
    t, times = 0.0, []
    while t < seconds:
        times.append(t)
        t += rng.choice([0.04, 0.04, 0.05, 0.3])
        if 10.0 <= t < 10.3:
            t += 3.0
    ts = 1_700_000_000.0 + np.round(np.array(times) * 1000) / 1000
    frames = rng.normal(20, 1, (len(ts), *shape)).astype(np.float32)
    return Recording(id=name, frames=frames, timestamps=ts, group=name.split("_")[0])


@pytest.fixture(scope="module")
def recs():
    return {n: irregular_recording(n, seed=k) for k, n in enumerate(["kitchen_a", "hall_b"])}


SEGS = [LabelledSegment("kitchen_a", 0.0, 8.0, "sitting"), LabelledSegment("kitchen_a", 8.0, 20.5, "walking"),
        LabelledSegment("hall_b", 2.5, 12.0, "standing")]


def test_csv_round_trip_is_exact(tmp_path, recs):
    path = write_segments_csv(tmp_path / "s.csv", SEGS + [LabelledSegment("hall_b", 12.0, 12.123457, "sitting")])
    back = read_segments_csv(path, recs, CLASSES)
    assert sorted(back, key=lambda s: (s.recording, s.start_s)) == sorted(
        SEGS + [LabelledSegment("hall_b", 12.0, 12.123457, "sitting")], key=lambda s: (s.recording, s.start_s))
    assert path.read_text().splitlines()[0] == "recording,start_s,end_s,label"


BAD_ROWS = {
    "unknown recording": ("cellar_x,0,1,sitting", "unknown recording 'cellar_x'"),
    "unknown class": ("kitchen_a,0,1,dancing", "unknown class 'dancing'"),
    "end before start": ("kitchen_a,5,4,sitting", "at or before it starts"),
    "end at start": ("kitchen_a,5,5,sitting", "at or before it starts"),
    "outside the recording": ("kitchen_a,25,99,sitting", "outside recording 'kitchen_a'"),
    "negative start": ("kitchen_a,-3,1,sitting", "outside recording"),
    "non-numeric time": ("kitchen_a,abc,1,sitting", "must be numbers"),
    "not finite": ("kitchen_a,nan,1,sitting", "finite numbers"),
    "ragged row": ("kitchen_a,0,1", "expected 4 fields, got 3"),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_every_bad_row_is_one_line_naming_file_and_line(tmp_path, recs, case):
    row, what = BAD_ROWS[case]
    path = tmp_path / "s.csv"
    path.write_text("recording,start_s,end_s,label\nhall_b,0,1,sitting\n" + row + "\n")
    with pytest.raises(ActlineError) as exc:
        read_segments_csv(path, recs, CLASSES)
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith(str(path)) and "line 3" in msg and what in msg, msg


def test_overlaps_and_headers(tmp_path, recs):
    path = tmp_path / "s.csv"
    path.write_text("recording,start_s,end_s,label\nkitchen_a,0,5,sitting\nhall_b,0,9,sitting\nkitchen_a,4.5,6,walking\n")
    with pytest.raises(ActlineError, match=r"line 4: overlaps line 2 in recording 'kitchen_a'"):
        read_segments_csv(path, recs, CLASSES)
    path.write_text("rec,start,end,label\nkitchen_a,0,5,sitting\n")
    with pytest.raises(ActlineError, match="line 1: expected the header recording,start_s,end_s,label"):
        read_segments_csv(path)
    path.write_text("")
    with pytest.raises(ActlineError, match="line 1: expected the header"):
        read_segments_csv(path)


def test_one_frame_of_tolerance_at_the_end(recs):
    rec = recs["kitchen_a"]
    step = float(np.median(np.diff(rec.timestamps)))
    validate_segments([LabelledSegment("kitchen_a", 1.0, rec.duration_s + step, "sitting")], recs, CLASSES, "x")
    with pytest.raises(ActlineError, match="outside"):
        validate_segments([LabelledSegment("kitchen_a", 1.0, rec.duration_s + 2.5 * step, "sitting")], recs, CLASSES, "x")


def test_a_file_over_the_cap_is_refused_before_reading(tmp_path):
    from actline.data.limits import ReadLimits

    path = tmp_path / "s.csv"
    path.write_text("recording,start_s,end_s,label\n" + "kitchen_a,0,1,sitting\n" * 100)
    with pytest.raises(ActlineError, match="more than the limit of 1,000"):
        read_segments_csv(path, limits=ReadLimits(max_label_bytes=1000))


def test_keyframes_follow_the_timestamps_not_a_frame_rate(recs):
    rec = recs["kitchen_a"]
    rel = rec.timestamps - rec.timestamps[0]
    rule = KeyframeRule(every_s=1.0, edge_s=0.25)
    kf = keyframes(rec, SEGS, rule)
    assert kf == sorted(kf) and len({i for i, _ in kf}) == len(kf)
    truth = segments_to_frames([Segment(s.start_s, s.end_s, s.label) for s in SEGS if s.recording == "kitchen_a"],
                               times=rel, fill="none")
    assert all(truth[i] == label for i, label in kf)  # each keyframe lies inside its segment
    t = rel[[i for i, _ in kf]]
    assert not ((t > 10.0) & (t < 13.0)).any()  # no keyframe in the 3 s gap
    assert len(kf) == pytest.approx((8 - 0.5) + (20.5 - 8 - 3.0 - 0.5), abs=4)
    # a short segment still gets one keyframe, at its middle
    short = [LabelledSegment("kitchen_a", 2.0, 2.3, "standing")]
    (idx, label), = keyframes(rec, short, rule)
    assert label == "standing" and 2.0 <= rel[idx] < 2.3


def test_rule_round_trip_and_bad_rules():
    rule = KeyframeRule(every_s=2.0, edge_s=0.5)
    assert KeyframeRule.from_dict(rule.to_dict(), "x") == rule
    for bad in ({"every_s": 0}, {"every_s": "a"}, {"edge_s": -1}, {"rule": "other"}, {"color": 1}, []):
        with pytest.raises(ActlineError, match="^info: "):
            KeyframeRule.from_dict(bad, "info")


def test_written_data_set_reads_back_with_the_segments_labels(tmp_path, recs):
    root = write_labelled_dataset(tmp_path / "d", recs, SEGS, CLASSES)
    ds = read_thermal_dataset(root)
    assert set(ds.recordings) == set(recs) and ds.classes == CLASSES
    for s in ds.samples:
        rec = ds.recordings[s.recording_id]
        t = rec.timestamps[s.frame_idx] - rec.timestamps[0]
        seg, = [g for g in SEGS if g.recording == s.recording_id and g.start_s <= t + 1e-9 < g.end_s]
        assert ds.classes[s.label] == seg.label
    np.testing.assert_allclose(ds.recordings["hall_b"].timestamps, recs["hall_b"].timestamps, atol=5e-4)
    coco = json.loads((root / "annotations" / "train.json").read_text())
    assert coco["info"]["keyframe_rule"] == KeyframeRule().to_dict()
    assert all({"id", "sensor_id", "frame_idx"} <= set(im) for im in coco["images"])
    assert read_segments_csv(root / "annotations" / "segments.csv", ds.recordings, CLASSES) == sorted(
        SEGS, key=lambda s: (s.recording, s.start_s))
    with pytest.raises(ActlineError, match="already exists"):
        write_labelled_dataset(root, recs, SEGS, CLASSES)


def test_bad_input_writes_nothing(tmp_path, recs):
    with pytest.raises(ActlineError, match="unknown class"):
        write_labelled_dataset(tmp_path / "d", recs, [LabelledSegment("hall_b", 0, 1, "x")], CLASSES)
    bad = {"kitchen": Recording("kitchen", recs["hall_b"].frames, recs["hall_b"].timestamps, "")}
    with pytest.raises(ActlineError, match="must be <location>_<rest>"):
        write_labelled_dataset(tmp_path / "d", bad, [], CLASSES)
    assert list(tmp_path.iterdir()) == []


def test_update_replaces_adds_and_refuses_a_stale_version(tmp_path, recs):
    root = write_labelled_dataset(tmp_path / "d", {"kitchen_a": recs["kitchen_a"]}, SEGS[:2], CLASSES)
    v0 = dataset_version(root)
    new = [LabelledSegment("hall_b", 1.0, 5.0, "lying")]
    v1 = update_dataset(root, {"hall_b": recs["hall_b"]}, {"hall_b": new}, classes=["lying"], expected_version=v0)
    assert v1 != v0 and v1 == dataset_version(root)
    ds = read_thermal_dataset(root)
    assert ds.classes == CLASSES + ["lying"] and set(ds.recordings) == {"kitchen_a", "hall_b"}
    assert {ds.classes[s.label] for s in ds.samples if s.recording_id == "hall_b"} == {"lying"}
    # replace kitchen_a's segments; hall_b keeps its own
    v2 = update_dataset(root, {}, {"kitchen_a": [LabelledSegment("kitchen_a", 0, 3, "standing")]}, expected_version=v1)
    segs = read_segments_csv(root / "annotations" / "segments.csv")
    assert segs == [LabelledSegment("hall_b", 1.0, 5.0, "lying"), LabelledSegment("kitchen_a", 0.0, 3.0, "standing")]
    with pytest.raises(ActlineError, match="changed since it was opened"):
        update_dataset(root, {}, {"kitchen_a": []}, expected_version=v1)
    assert dataset_version(root) == v2
    with pytest.raises(ActlineError, match="unknown class 'dancing'"):
        update_dataset(root, {}, {"kitchen_a": [LabelledSegment("kitchen_a", 0, 3, "dancing")]})
    with pytest.raises(ActlineError, match="unknown recording 'cellar_x'"):
        update_dataset(root, {}, {"cellar_x": []})
    assert dataset_version(root) == v2 and not list(root.glob(".annotations*"))


def _add(root, name, seed):
    rec = irregular_recording(name, seconds=8.0, seed=seed)
    update_dataset(root, {name: rec}, {name: [LabelledSegment(name, 0.0, 4.0, "sitting")]})


def test_concurrent_updates_lose_nothing(tmp_path, recs):
    root = write_labelled_dataset(tmp_path / "d", {"kitchen_a": recs["kitchen_a"]}, SEGS[:1], CLASSES)
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_add, args=(root, f"room{k}_x", k)) for k in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    segs = read_segments_csv(root / "annotations" / "segments.csv")
    assert {s.recording for s in segs} == {"kitchen_a", "room0_x", "room1_x", "room2_x", "room3_x"}
    assert set(read_thermal_dataset(root).recordings) == {s.recording for s in segs}


def test_a_keyframe_only_data_set_opens_for_labelling_and_updates(tmp_path, synth_dir):
    import shutil

    root = Path(shutil.copytree(synth_dir, tmp_path / "d"))
    ds = read_thermal_dataset(root)
    segs = segments_from_keyframes(ds)
    validate_segments(segs, ds.recordings, ds.classes, "from keyframes")
    for s in ds.samples:  # every keyframe lies in a segment of its own label
        rec = ds.recordings[s.recording_id]
        t = rec.timestamps[s.frame_idx] - rec.timestamps[0]
        assert [g.label for g in segs if g.recording == s.recording_id and g.start_s <= t < g.end_s] == [ds.classes[s.label]]
    first = sorted(ds.recordings)[0]
    before = {s.id for s in ds.samples if s.recording_id != first}
    update_dataset(root, {}, {first: [LabelledSegment(first, 1.0, 20.0, "walking")]})
    after = read_thermal_dataset(root)
    assert {s.id for s in after.samples if s.recording_id != first} == before  # others keep their keyframes and split
    assert {after.classes[s.label] for s in after.samples if s.recording_id == first} == {"walking"}
    assert {s.recording for s in read_segments_csv(root / "annotations" / "segments.csv")} == set(ds.recordings)
