"""Known rooms and the new-room measure (actline.data.rooms)."""

import numpy as np
import pytest

from actline.data import load_dataset
from actline.data.rooms import NEW_ROOM_BELOW, KnownRooms, room_signature
from actline.data.synth.thermal_set import SynthConfig, generate_thermal_dataset


def _rates(ds) -> tuple[float, float]:
    """(share of held-out rooms flagged as new, share of held-out recordings of known rooms flagged): every
    location held out in turn (its recordings must be flagged, by majority), and every recording of a location
    with two or more recordings held out against all the others (it must not be)."""
    ids = sorted(ds.recordings)
    rooms = np.stack([ds.recordings[r].empty_room() for r in ids])
    loc = np.array([ds.recordings[r].group for r in ids])
    flagged_rooms = []
    for where in sorted(set(loc)):
        known = KnownRooms(rooms[loc != where])
        flagged_rooms.append(np.mean(known.similarity(rooms[loc == where]) < NEW_ROOM_BELOW) > 0.5)
    flagged_recordings = [KnownRooms(np.delete(rooms, i, 0)).similarity(rooms[i]) < NEW_ROOM_BELOW
                          for i in range(len(ids)) if (loc == loc[i]).sum() >= 2]
    return float(np.mean(flagged_rooms)), float(np.mean(flagged_recordings))


@pytest.mark.slow  # ~20 s: three realistic data sets of 12 recordings
def test_new_rooms_are_told_from_known_ones_at_the_rates_of_the_tuning_sets(tmp_path):
    # Chosen on tuning sets 100-119 of the realistic preset (leave one location out, and every recording of a
    # location with 2+ recordings held out by recording): rooms flagged 100 %, recordings of known rooms 1-10 %
    # (the 0.5 threshold sits between their 90 % bounds, 0.31 and 0.70). These test seeds, other sets of the same
    # preset, gave rooms 100 % and known-room recordings 0 % under 1 and 2 threads (numpy only: no thread
    # dependence); bounds with a margin: >= 90 % and <= 15 %.
    rooms, recordings = [], []
    for seed in (131, 132, 133):
        ds = load_dataset(generate_thermal_dataset(tmp_path / str(seed), SynthConfig(preset="realistic", seed=seed)))
        r, k = _rates(ds)
        rooms.append(r), recordings.append(k)
    assert np.mean(rooms) >= 0.9 and np.mean(recordings) <= 0.15, (rooms, recordings)


def test_what_every_known_room_shares_is_not_the_room():
    """A pattern all rooms share (the sensor's own) makes rooms alike by fingerprint but not by this measure;
    a known room itself scores 1; shapes are checked."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:40, 0:60]
    sensor = -8.0 * (((yy - 19.5) / 20) ** 2 + ((xx - 29.5) / 30) ** 2) ** 3 + rng.normal(0, 0.15, (40, 60))

    def room(seed):
        r = np.random.default_rng(seed)
        img = 18 + sensor + r.normal(0, 0.05, (40, 60))
        y, x = r.integers(2, 36), r.integers(2, 54)
        img[y:y + 3, x:x + 3] += 12  # a lamp of its own
        return img.astype(np.float32)

    known = KnownRooms(np.stack([room(s) for s in range(4)]))
    assert known.similarity(room(2)) == pytest.approx(1.0, abs=1e-3)
    assert known.similarity(room(9)) < NEW_ROOM_BELOW
    old = KnownRooms(None, "fingerprint", room_signature(np.stack([room(s) for s in range(4)]), "fingerprint"))
    assert old.similarity(room(9)) > 0.5  # by fingerprint a new room looks familiar
    assert known.adding(room(9)[None]).similarity(room(9)) == pytest.approx(1.0, abs=1e-3)  # taught by calibration
    with pytest.raises(ValueError, match="pixels"):
        known.similarity(np.zeros((4, 4), np.float32))
