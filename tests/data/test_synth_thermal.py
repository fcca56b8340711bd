import json

import h5py
import numpy as np

from actline.data import load_dataset
from actline.data.synth_thermal import SENTINEL_C, THERMAL_CLASSES, SynthConfig, generate_thermal_dataset


def test_layout_matches_thermaldatagen(synth_dir):
    files = sorted((synth_dir / "frames").glob("*.h5"))
    assert len(files) == 4
    with h5py.File(files[0], "r") as fh:
        assert fh["frames"].shape[1:] == (40, 60) and fh["frames"].dtype == np.float32
        assert fh["frames"].compression == "gzip" and fh["frames"].compression_opts == 4
        assert fh["frames"].chunks == (64, 40, 60)
        assert fh["timestamps"].dtype == np.int64 and fh["frame_seqs"].dtype == np.int64
        for attr in ("sensor_id", "mac_address", "frame_height", "frame_width", "min_timestamp", "max_timestamp",
                     "total_frames", "created_at", "compression", "compression_level", "corrupted_count"):
            assert attr in fh.attrs, attr
        assert fh.attrs["total_frames"] == fh["frames"].shape[0]
    mapping = json.loads((synth_dir / "annotations" / "class_mapping.json").read_text())
    assert mapping["classes"] == THERMAL_CLASSES
    coco = json.loads((synth_dir / "annotations" / "train.json").read_text())
    img = coco["images"][0]
    assert set(img) == {"id", "sensor_id", "mac_address", "timestamp", "width", "height", "frame_idx"}
    assert img["id"] == f"{img['sensor_id']}_{img['timestamp']}"
    ann = coco["annotations"][0]
    assert set(ann) == {"id", "image_id", "bbox", "category_id", "category_name", "object_id", "attribute_obscured"}
    x, y, w, h = ann["bbox"]
    assert 0 <= x <= 1 and 0 <= y <= 1 and 0 < w <= 1 and 0 < h <= 1


def test_round_trip_reader_sees_what_generator_wrote(synth_dir):
    ds = load_dataset(synth_dir)
    assert ds.format == "thermal-h5" and ds.classes == THERMAL_CLASSES
    assert len(ds.recordings) == 4
    coco = [json.loads((synth_dir / "annotations" / f"{s}.json").read_text()) for s in ("train", "val")]
    assert len(ds.samples) == sum(len(c["images"]) for c in coco)
    assert len(ds.subset("val")) == len(coco[1]["images"])
    for rec in ds.recordings.values():
        assert rec.frames.shape[1:] == (40, 60)
        assert np.all(np.diff(rec.timestamps) > 0)
        assert rec.frames.max() <= 45.0
    # each label follows the keyframe rule over the image's boxes (most frequent, ties -> smallest id)
    boxes = {}
    for c in coco:
        for a in c["annotations"]:
            boxes.setdefault(a["image_id"], []).append(a["category_id"])
    for s in ds.samples:
        ids = boxes[s.id]
        best = max(ids.count(i) for i in ids)
        assert s.label == min(i for i in ids if ids.count(i) == best)
    # a visiting walker sometimes ties with the main body and wins on the smaller id: rare
    main = {a["image_id"]: a["category_id"] for c in coco for a in c["annotations"] if a["object_id"] == 0}
    assert np.mean([main[s.id] == s.label for s in ds.samples]) > 0.85


def test_deterministic_for_a_seed(tmp_path):
    cfg = SynthConfig(n_recordings=2, duration_s=20.0, seed=11)
    a = load_dataset(generate_thermal_dataset(tmp_path / "a", cfg))
    b = load_dataset(generate_thermal_dataset(tmp_path / "b", cfg))
    c = load_dataset(generate_thermal_dataset(tmp_path / "c", SynthConfig(n_recordings=2, duration_s=20.0, seed=12)))
    assert [s.id for s in a.samples] == [s.id for s in b.samples]
    for rid in a.recordings:
        np.testing.assert_array_equal(a.recordings[rid].frames, b.recordings[rid].frames)
    assert not np.array_equal(next(iter(a.recordings.values())).frames[:10], next(iter(c.recordings.values())).frames[:10])


def test_sensor_quirks_are_present():
    from actline.data.synth_thermal import simulate_recording

    found_sentinel = found_clip = found_gap = False
    for r in range(10):
        rng = np.random.default_rng([5, r])
        frames, times, classes, *_ = simulate_recording(rng, SynthConfig(duration_s=60.0))
        found_sentinel |= bool((frames == np.float32(SENTINEL_C)).any())
        found_clip |= bool((frames == 45.0).any())
        found_gap |= bool((np.diff(times) > 1.0).any())
        assert 6 * 60 * 0.7 < len(frames) < 30 * 60 * 1.1
    assert found_sentinel and found_clip and found_gap


def test_imbalanced_with_lying_with_risk_dominant(tmp_path):
    ds = load_dataset(generate_thermal_dataset(tmp_path / "d", SynthConfig(n_recordings=6, duration_s=120.0, seed=1)))
    counts = ds.class_counts()
    assert max(counts, key=counts.get) == "lying down-lying with risk"
    assert sum(v > 0 for v in counts.values()) >= 10
