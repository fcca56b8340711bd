"""The shape statistics (the room gate's shape trees read them): one labelling of the window, checked against
the definition written out frame by frame, and blind to where the person is."""

import numpy as np
import pytest
from scipy import ndimage

from actline.models.window_stats import N_SHAPE, SHAPE_INPUT, STATISTICS, WARM_C, shape_stats, statistics_of


def by_frame(win: np.ndarray) -> np.ndarray:
    """The definition, one frame at a time."""
    rows = []
    for f in win:
        d = f - np.median(f)
        lab, n = ndimage.label((d > WARM_C[0]) & (d < WARM_C[1]))
        if n == 0:
            rows.append([0.0] * 6)
            continue
        k = int(np.argmax(ndimage.sum(np.ones_like(d), lab, range(1, n + 1)))) + 1
        ys, xs = np.nonzero(lab == k)
        cov = np.cov(np.stack([ys, xs])) if len(ys) > 2 else np.eye(2) * 0.1
        ev = np.sort(np.linalg.eigvalsh(cov))[::-1]
        rows.append([len(ys), np.sqrt(max(ev[0], 0)), np.sqrt(max(ev[1], 0)),
                     np.sqrt(max(ev[0], 1e-3) / max(ev[1], 1e-3)), d[ys, xs].max(), d[ys, xs].mean()])
    pf = np.c_[np.asarray(rows), np.r_[0, np.abs(np.diff(win, axis=0)).mean(axis=(1, 2))]]
    tt = np.arange(len(win)) - (len(win) - 1) / 2
    return np.concatenate([pf.mean(0), pf.std(0), pf.min(0), pf.max(0), (tt[:, None] * pf).sum(0) / (tt ** 2).sum()])


def people(seed: int, t: int = 12) -> np.ndarray:
    """A noisy floor with warm patches of random size and warmth, a lamp hotter than any person, single pixels."""
    rng = np.random.default_rng(seed)
    w = (20 + rng.normal(0, 0.5, (t, 24, 32))).astype(np.float32)
    for f in range(t):
        for _ in range(rng.integers(0, 3)):
            y, x = rng.integers(0, 20), rng.integers(0, 26)
            w[f, y:y + rng.integers(1, 6), x:x + rng.integers(1, 8)] += rng.uniform(1, 18)
        if rng.random() < 0.3:
            w[f, :2, :2] += 30
    return w


@pytest.mark.parametrize("seed", range(8))
def test_shape_stats_are_the_definition(seed):
    np.testing.assert_allclose(shape_stats(people(seed)), by_frame(people(seed)), rtol=1e-6, atol=1e-6)


def test_where_the_person_is_plays_no_part():
    win = np.full((6, 24, 32), 20.0, np.float32)
    moved = win.copy()
    win[:, 3:8, 4:7] += 5.0
    moved[:, 15:20, 22:25] += 5.0
    assert np.array_equal(shape_stats(win), shape_stats(moved))
    # an empty frame gives zeros, one warm pixel a small round spot
    empty = shape_stats(np.full((4, 8, 8), 20.0, np.float32))
    assert empty.shape == (N_SHAPE,) and not empty.any()
    spot = np.full((4, 8, 8), 20.0, np.float32)
    spot[:, 2, 2] = 25.0
    assert shape_stats(spot)[:4].tolist() == pytest.approx([1.0, np.sqrt(0.1), np.sqrt(0.1), 1.0])


def test_statistics_by_kind():
    wins = np.stack([people(0), people(1)])
    assert statistics_of(wins, SHAPE_INPUT).shape == (2, N_SHAPE) == (2, STATISTICS[SHAPE_INPUT][1])
    assert statistics_of(wins[:0], SHAPE_INPUT).shape == (0, N_SHAPE)
