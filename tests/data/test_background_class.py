"""The "nothing" class: time outside every annotated action, on Nagoya, segments.csv and keyframe-only data."""

import numpy as np
import pytest

from actline.data import Recording, WindowRule, load_dataset
from actline.data.background_class import add_background_class
from actline.data.labels import LabelledSegment, write_labelled_dataset
from actline.data.nagoya import UNSTABLE_FRAMES, read_nagoya
from actline.train.config import load_config
from tests.data.test_nagoya import _tiny_dataset


def test_nagoya_unannotated_frames_become_the_class(tmp_path):
    root = _tiny_dataset(tmp_path / "nag", n=120)
    plain = read_nagoya(root)
    ds = add_background_class(plain, "none", WindowRule(length=16))
    assert ds.classes == [*plain.classes, "none"] and plain.classes[-1] != "none"  # the input is left alone
    rec, old = ds.recordings["20170101_p1_light1"], plain.recordings["20170101_p1_light1"]
    bg = ds.classes.index("none")
    assert np.array_equal(rec.frame_labels == bg, old.frame_labels == -1) and (rec.frame_labels != -1).all()
    centres = sorted(s.frame_idx for s in ds.samples if s.label == bg and s.recording_id == rec.id)
    outside = np.flatnonzero(old.frame_labels == -1)
    assert centres == list(outside[::32])  # one window every two windows' length of unannotated frames
    assert all(old.frame_labels[c] == -1 for c in centres)
    # read_nagoya(unlabelled=...) is the same function; applying it twice changes nothing
    assert [s.id for s in read_nagoya(root, unlabelled="none").samples] == [s.id for s in ds.samples]
    assert add_background_class(ds, "none", WindowRule(length=16)) is ds
    assert add_background_class(plain, None, WindowRule(length=16)) is plain
    assert rec.timestamps[0] == pytest.approx(0.1 * UNSTABLE_FRAMES)


def _labelled(tmp_path, n=300, segments=True):
    t = np.arange(n) * 0.1
    frames = np.full((n, 8, 8), 20.0, np.float32)
    recs = {"R1_a": Recording("R1_a", frames, 1_700_000_000 + t, "R1")}
    segs = [LabelledSegment("R1_a", 5.0, 10.0, "walk"), LabelledSegment("R1_a", 20.0, 22.0, "fall")]
    root = write_labelled_dataset(tmp_path / "lab", recs, segs, ["walk", "fall"])
    if not segments:
        (root / "annotations" / "segments.csv").unlink()
    return root


def test_segments_csv_time_outside_every_segment(tmp_path):
    ds = load_dataset(_labelled(tmp_path))
    out = add_background_class(ds, "none", WindowRule(length=10, mode="index"))
    bg = out.classes.index("none")
    centres = [s.frame_idx for s in out.samples if s.label == bg]
    rel = np.arange(300) * 0.1
    assert centres and all(not (5.0 - 1e-6 <= rel[c] < 10.0 - 1e-6 or 20.0 - 1e-6 <= rel[c] < 22.0 - 1e-6)
                           for c in centres)
    assert centres[:2] == [0, 20]  # every 2 x 10 frames of time outside
    assert len([s for s in out.samples if s.label != bg]) == len(ds.samples)


def test_keyframes_only_farther_than_half_a_window(tmp_path):
    ds = load_dataset(_labelled(tmp_path, segments=False))
    keys = np.array(sorted(s.frame_idx for s in ds.samples)) * 0.1
    rule = WindowRule(length=9, mode="time", fps=4.0)  # 2 s windows: 1 s either side of a keyframe is not background
    out = add_background_class(ds, "none", rule)
    bg = out.classes.index("none")
    centres = np.array([s.frame_idx for s in out.samples if s.label == bg])
    gaps = np.abs(centres[:, None] * 0.1 - keys[None]).min(axis=1)
    assert len(centres) and gaps.min() > 1.0
    assert np.diff(centres).min() >= 40  # every two windows (4 s at 10 fps) of such frames


def test_the_setting_trains_reads_and_is_saved(tmp_path):
    cfg = load_config(None, ["background_class=none"])
    assert cfg.background_class == "none"  # a class named "none", not "unset"
    assert load_config(None, ["background_class=null"]).background_class is None
    assert load_config(None, []).background_class is None
