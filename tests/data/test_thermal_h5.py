import json
import shutil

import h5py
import numpy as np
import pytest

from actline.core.errors import ActlineError
from actline.data import Recording, Sample, WindowRule, load_dataset
from actline.data.thermal_h5 import keyframe_label, read_recording_h5
from actline.data.window import fill_invalid


def test_keyframe_label_rule():
    assert keyframe_label([3]) == 3
    assert keyframe_label([5, 3, 5]) == 5
    assert keyframe_label([5, 3]) == 3  # tie -> smallest id
    assert keyframe_label([9, 9, 2, 2, 7]) == 2


def _rec(n=10):
    frames = np.arange(n, dtype=np.float32)[:, None, None] * np.ones((1, 2, 3), np.float32)
    return Recording(id="r", frames=frames, timestamps=np.arange(n) * 0.1, group="g")


def test_index_window_repeats_edge_frames():
    rec = _rec(10)
    idx = WindowRule(length=8).indices(rec.timestamps, 0)
    assert idx.tolist() == [0, 0, 0, 0, 0, 1, 2, 3]  # frame_idx-4 .. frame_idx+3
    idx = WindowRule(length=8).indices(rec.timestamps, 9)
    assert idx.tolist() == [5, 6, 7, 8, 9, 9, 9, 9]
    idx = WindowRule(length=64).indices(rec.timestamps, 5)
    assert len(idx) == 64 and idx[0] == 0 and idx[32] == 5 and idx[-1] == 9


def test_time_window_resamples_by_timestamps():
    rec = _rec(10)
    rec.timestamps = np.array([0, 0.1, 0.2, 0.3, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8])  # a 1 s gap
    idx = WindowRule(length=4, mode="time", fps=5.0).indices(rec.timestamps, 4)  # t = 0.9, 1.1, 1.3, 1.5
    assert idx.tolist() == [3, 3, 4, 6]


def test_fill_invalid_replaces_sentinels_with_frame_median():
    w = np.full((2, 4, 4), 20.0, np.float32)
    w[0, 1] = -273.2
    w[1] = -273.2  # a frame with nothing valid takes the window median
    out = fill_invalid(w)
    assert out.min() == 20.0 and out.max() == 20.0


def test_fill_invalid_gives_nanmedians_without_looping_over_frames():
    """The per-frame medians come from one sort (nanmedian loops over frames in Python once any is NaN): the
    same values to the bit, so windows cut for training and for prediction stay identical."""
    import warnings

    rng = np.random.default_rng(0)
    x = rng.normal(21, 2, (33, 40, 60)).astype(np.float32)
    x[rng.random(x.shape) < 0.05] = -273.2
    x[5] = -273.2  # nothing valid: the median of the whole window
    x[7, :, :59] = -273.2  # one valid pixel
    x[8, :, :58] = -273.2  # two: their mean
    masked = np.where(x <= -100, np.nan, x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        per_frame = np.nanmedian(masked.reshape(33, -1), axis=1)
    per_frame = np.where(np.isnan(per_frame), np.nanmedian(masked), per_frame).astype(np.float32)
    want = np.where(x <= -100, per_frame[:, None, None], x)
    assert np.array_equal(fill_invalid(x), want)


def test_window_of_real_sample_shape(synth_dir):
    ds = load_dataset(synth_dir)
    win = ds.window(ds.samples[0], WindowRule(length=64))
    assert win.shape == (64, 40, 60) and win.dtype == np.float32 and win.min() > -100


@pytest.fixture
def copy_dir(synth_dir, tmp_path):
    dst = tmp_path / "data"
    shutil.copytree(synth_dir, dst)
    return dst


def test_missing_recording_is_skipped_with_a_warning(copy_dir):
    victim = sorted((copy_dir / "frames").glob("*.h5"))[0]
    victim.unlink()
    full = load_dataset(copy_dir.parent / "data")
    assert victim.stem not in full.recordings
    assert len(full.warnings) == 1 and victim.stem in full.warnings[0] and "sample(s) skipped" in full.warnings[0]


def _expect(path_fragment, message_fragment, fn):
    with pytest.raises(ActlineError) as exc:
        fn()
    text = str(exc.value)
    assert "\n" not in text
    assert path_fragment in text and message_fragment in text, text


def test_bad_inputs_give_one_clear_line(copy_dir, tmp_path):
    _expect("nowhere", "not found", lambda: load_dataset(tmp_path / "nowhere"))
    h5 = sorted((copy_dir / "frames").glob("*.h5"))[0]
    good = h5.read_bytes()

    h5.write_bytes(b"")
    _expect(h5.name, "not a readable HDF5", lambda: load_dataset(copy_dir))
    h5.write_bytes(good[: len(good) // 2])
    _expect(h5.name, "HDF5", lambda: load_dataset(copy_dir))

    with h5py.File(h5, "w") as fh:
        fh["frames"] = np.zeros((10, 40), np.float32)
        fh["timestamps"] = np.arange(10, dtype=np.int64)
    _expect(h5.name, "shape (N, H, W)", lambda: read_recording_h5(h5))
    with h5py.File(h5, "w") as fh:
        fh["frames"] = np.zeros((10, 40, 60), np.float32)
        fh["timestamps"] = np.arange(9, dtype=np.int64)
    _expect(h5.name, "'timestamps' has shape", lambda: read_recording_h5(h5))
    frames = np.zeros((10, 40, 60), np.float32)
    frames[4, 2, 2] = np.nan
    with h5py.File(h5, "w") as fh:
        fh["frames"] = frames
        fh["timestamps"] = np.arange(10, dtype=np.int64)
    _expect(h5.name, "NaN or inf", lambda: read_recording_h5(h5))
    with h5py.File(h5, "w") as fh:
        fh["frames"] = np.zeros((3, 40, 60), np.float32)
        fh["timestamps"] = np.arange(3, dtype=np.int64)
    _expect("train.json", "frame_idx", lambda: load_dataset(copy_dir))


def _edit_json(path, fn):
    obj = json.loads(path.read_text())
    fn(obj)
    path.write_text(json.dumps(obj))


def test_bad_annotations(copy_dir):
    train = copy_dir / "annotations" / "train.json"
    good = train.read_text()
    _edit_json(train, lambda o: o["annotations"][0].update(image_id="no-such-image"))
    _expect("train.json", "points to image 'no-such-image'", lambda: load_dataset(copy_dir))
    train.write_text(good)
    _edit_json(train, lambda o: o["annotations"][0].update(category_name="dancing"))
    _expect("train.json", "unknown class name 'dancing'", lambda: load_dataset(copy_dir))
    train.write_text(good)
    _edit_json(train, lambda o: o["categories"].append({"id": 99, "name": "flying"}))
    _expect("train.json", "unknown class name 'flying'", lambda: load_dataset(copy_dir))
    train.write_text("{not json")
    _expect("train.json", "not valid JSON", lambda: load_dataset(copy_dir))
    train.write_text(good)
    mapping = copy_dir / "annotations" / "class_mapping.json"
    mapping.write_text(json.dumps({"classes": ["a", "a"]}))
    _expect("class_mapping.json", "duplicate class names", lambda: load_dataset(copy_dir))


def test_sample_dataclass_is_hashable():
    assert len({Sample("r", 1, 0), Sample("r", 1, 0)}) == 1
