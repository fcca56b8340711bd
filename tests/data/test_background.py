"""The empty-room estimator that never learns a still person: seed, foreground, state."""

import warnings

import numpy as np
import pytest

from actline.core.errors import ActlineError
from actline.data.background import BackgroundConfig, BackgroundModel, estimate_window_background
from actline.data.dataset import estimate_background


def _room(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    floor = (18 + rng.normal(0, 0.3, (40, 60))).astype(np.float32)
    floor[2:5, 40:48] += 14.0  # a heater, on from the start
    return floor, (floor[None] + rng.normal(0, 0.2, (n, 40, 60))).astype(np.float32)


def test_a_window_where_someone_walks_in_and_stays_still_keeps_the_floor():
    floor, frames = _room(64)
    for i in range(64):  # walks in over 16 frames, then stands still for 48 (75 % of the window)
        x = min(5 + 2 * i, 35)
        frames[i, 18:26, x:x + 6] += 6.0
    still = (slice(18, 26), slice(35, 41))
    assert (estimate_background(frames)[still] - floor[still]).mean() > 4  # the median swallows them
    bg = estimate_window_background(frames)
    assert np.abs(bg[still] - floor[still]).mean() < 0.6  # the cool value of the pixels they moved over
    heater = (slice(2, 5), slice(40, 48))
    assert np.abs(bg[heater] - floor[heater]).mean() < 0.3  # a heat source that never moved is background


def test_foreground_is_held_while_warm_and_released_when_the_person_leaves():
    floor, frames = _room(1200, seed=1)
    frames[300:1100, 10:20, 20:26] += 5.0  # arrives at 30 s, lies still for 80 s, leaves
    m = BackgroundModel((40, 60), BackgroundConfig(time_constant_s=20.0))
    fg_frames = []
    for i, f in enumerate(frames):
        m.update(f, i * 0.1)
        fg_frames.append(m.fg[12:18, 21:25].all())
    assert all(fg_frames[320:1100]) and not any(fg_frames[1140:])
    assert np.abs(m.room[10:20, 20:26] - floor[10:20, 20:26]).mean() < 0.3
    assert m.fg[2:5, 40:48].sum() == 0


def test_sentinels_are_ignored_and_the_state_round_trips():
    _, frames = _room(100, seed=2)
    frames[::3, 0, :] = -273.2
    m = BackgroundModel((40, 60))
    for i, f in enumerate(frames):
        m.update(f, i * 0.1)
    assert m.room.min() > 15
    meta, arrays = m.state()
    again = BackgroundModel.from_state(meta, arrays)
    for i, f in enumerate(frames[:20]):
        m.update(f, 10 + i * 0.1)
        again.update(f, 10 + i * 0.1)
    np.testing.assert_array_equal(again.room, m.room)
    with pytest.raises(ActlineError, match="not a background state"):
        BackgroundModel.from_state({**meta, "version": 99}, arrays)
    with pytest.raises(ActlineError, match="expected a 40x60 frame"):
        m.update(np.zeros((4, 4)))


def test_a_person_filling_a_small_frame_leaves_the_noise_estimate_alone():
    rng = np.random.default_rng(3)
    frames = (20 + rng.normal(0, 0.1, (120, 16, 16))).astype(np.float32)
    frames[100:, 1:15, 1:15] += 2.0  # on a 16x16 sensor a person below can fill the view: nothing left to measure
    m = BackgroundModel((16, 16), BackgroundConfig(update_every=1))
    for i, f in enumerate(frames[:100]):
        m.update(f, i * 0.1)
    before = m.sigma
    for i, f in enumerate(frames[100:]):
        m.update(f, 10 + i * 0.1)
    assert m.fg.sum() > 150 and np.isfinite(m.sigma) and m.sigma >= 0.9 * before


def test_the_vectorised_seed_gives_numpys_medians_and_percentiles():
    """No masked arrays and no loop over frames, the same numbers: nanmedian over the valid readings, and in the
    pixels someone moved over, the median of the readings below the midpoint of the 5th and 95th percentiles."""
    from actline.data.background import _seed

    floor, frames = _room(50, seed=4)
    frames[10:30, 20:26, 30:36] += 7.0  # someone stands there for 20 of the 50 frames
    frames[np.random.default_rng(5).random(frames.shape) < 0.02] = -273.2
    frames[:, 0, 0] = -273.2  # a pixel dead in every frame takes the median of every valid reading
    x = np.where(frames > -100, frames, np.nan)
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        want = np.nanmedian(x, axis=0)
    want[0, 0] = np.nanmedian(x)
    plain, sigma = _seed(frames, BackgroundConfig(), low=False)
    assert np.array_equal(plain, want.astype(np.float32)) and 0.01 < sigma < 0.5
    filled = np.where(np.isnan(x), plain[None], x)
    lo, hi = np.percentile(filled, [5, 95], axis=0)
    with warnings.catch_warnings():  # pixels with nothing below the midpoint: an empty median, unused
        warnings.simplefilter("ignore", RuntimeWarning)
        cool = np.array([[np.median(filled[:, i, j][filled[:, i, j] < (lo[i, j] + hi[i, j]) / 2])
                          for j in range(60)] for i in range(40)])
    low, _ = _seed(frames, BackgroundConfig(), low=True)
    person = (slice(20, 26), slice(30, 36))
    assert np.allclose(low[person], cool[person], atol=1e-5)  # the cool value where someone stood
    assert np.abs(low[person] - floor[person]).mean() < 0.3
    moved = low != plain
    assert moved[person].all() and moved.mean() < 0.05  # elsewhere the plain median stays
