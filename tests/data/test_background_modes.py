"""What background subtraction removes: the floor's pattern and heat sources, never a person lying still."""

import numpy as np

from actline.data.window import remove_background, static_heat


def _room():
    bg = np.full((40, 60), 18.0, np.float32)
    bg[:, 30:] += 0.5  # an uneven floor
    bg[2:5, 2:5] = 40.0  # a heater, far hotter than a person
    return bg


def test_static_heat_keeps_a_person_that_the_median_would_erase():
    room = _room()
    person = np.zeros_like(room)
    person[20:26, 20:32] = 7.0  # a person lying still for the whole recording: part of the median
    median_bg = room + person
    win = np.repeat((room + person)[None], 4, axis=0)
    erased = remove_background(win, median_bg, "recording-median")
    kept = remove_background(win, median_bg, "static-heat")
    floor = kept[0, 10, 10]  # what a plain floor pixel reads after subtraction
    assert np.ptp(erased) < 1e-4  # the median took the person away
    assert kept[0, 22, 25] - floor > 6.0  # static heat keeps them ...
    assert abs(kept[0, 3, 3] - floor) < 1e-4  # ... and still removes the heater
    assert abs(kept[0, 10, 50] - kept[0, 10, 10]) < 1e-4  # ... and the floor's pattern
    assert np.array_equal(static_heat(room), room)  # nothing person-warm in an empty room: as the median
    assert np.array_equal(remove_background(win, median_bg, "none"), win)
