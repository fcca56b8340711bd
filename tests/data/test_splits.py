import numpy as np
import pytest

from actline.core.errors import ActlineError
from actline.data import WindowRule, load_dataset
from actline.data.splits import group_folds, make_split


@pytest.fixture(scope="module")
def ds(synth_dir):
    return load_dataset(synth_dir)


def test_by_recording_never_shares_a_recording(ds):
    for seed in range(5):
        sp = make_split(ds, "by-recording", seed=seed, n_folds=4)
        train_recs = {s.recording_id for s in sp.train}
        eval_recs = {s.recording_id for s in sp.eval}
        assert train_recs and eval_recs and not train_recs & eval_recs
        assert sp.overlapping_eval == 0 and sp.warning is None


def test_given_split_overlap_is_counted_and_warned(ds):
    sp = make_split(ds, "given", spec=WindowRule(length=64))
    assert len(sp.train) == len(ds.subset("train")) and len(sp.eval) == len(ds.subset("val"))
    assert sp.overlapping_eval > 0
    assert f"{sp.overlapping_eval} of {len(sp.eval)} evaluation windows overlap" in sp.warning
    # a 1-frame window overlaps far less than a 64-frame one
    assert make_split(ds, "given", spec=WindowRule(length=1)).overlapping_eval < sp.overlapping_eval


def test_kfold_covers_each_sample_once(ds):
    folds = group_folds(ds, n_folds=4)
    seen = np.concatenate([ev for _, ev in folds])
    assert sorted(seen.tolist()) == list(range(len(ds.samples)))
    for tr, ev in folds:
        groups = ds.groups()
        assert not set(groups[tr]) & set(groups[ev])


def test_unknown_split_is_a_clear_error(ds):
    with pytest.raises(ActlineError, match="unknown split 'random'"):
        make_split(ds, "random")
