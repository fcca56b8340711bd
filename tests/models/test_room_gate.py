"""The room gate: the CNN alone in a familiar room, its fusion with the trees in a new one."""

import numpy as np
import pytest

from actline.core.errors import ActlineError
from actline.data.rooms import room_fingerprint
from actline.data.window import remove_background
from actline.modeldir.parts.class_guard import RareClassGuard
from actline.modeldir.parts.room_gate import RoomGate
from actline.models.contract import fuse_probs


class Fixed:
    """A classifier whose probabilities are fixed per call, recording the windows it was given."""

    def __init__(self, p):
        self.p, self.num_classes, self.feature_dim, self.seen = np.asarray(p, np.float32), len(p), 0, []

    def probs(self, windows, rooms=None):
        self.seen.append(np.array(windows))
        return np.repeat(self.p[None], len(windows), axis=0)

    def features(self, windows):
        return np.zeros((len(windows), 1), np.float32)


def _room(seed: int, shape=(8, 10)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (21.0 + rng.normal(0, 1.0, shape)).astype(np.float32)


def _windows(n: int, room: np.ndarray) -> np.ndarray:
    return np.repeat(room[None, None], 6, axis=1).repeat(n, axis=0) + 0.01


def test_fingerprint_ignores_the_room_temperature_but_not_its_layout():
    room = _room(0)
    same = room_fingerprint(room) @ room_fingerprint(room + 3.0)
    other = room_fingerprint(room) @ room_fingerprint(_room(1))
    assert same > 0.999 and abs(other) < 0.5
    assert room_fingerprint(np.stack([room, room])).shape == (2, room.size)


def test_a_training_room_keeps_the_cnn_and_a_new_room_gets_the_fusion():
    known, new = _room(0), _room(1)
    cnn, trees = Fixed([0.7, 0.2, 0.1]), Fixed([0.1, 0.2, 0.7])
    gate = RoomGate(cnn, trees, room_fingerprint(known[None]), threshold=0.3)
    assert gate.similarity(known) > 0.99 and gate.similarity(new) < 0.3

    np.testing.assert_allclose(gate.probs(_windows(2, known), known), cnn.probs(np.zeros((2,))), atol=1e-6)
    assert not trees.seen, "the trees are not consulted in a familiar room"

    wins = _windows(2, new)
    got = gate.probs(wins, np.stack([new, known]))  # one empty room per window: only the first is new
    want = fuse_probs([cnn.p[None], trees.p[None]], [0.5, 0.5])[0]
    np.testing.assert_allclose(got[0], want, atol=1e-6)
    np.testing.assert_allclose(got[1], cnn.p, atol=1e-6)
    # the trees got the new room's window minus its empty room, as they were trained
    np.testing.assert_allclose(trees.seen[-1][0], remove_background(wins[0], new, "recording-median"), atol=1e-5)


def test_a_fallback_cnn_replaces_the_cnn_in_the_fusion_and_sees_static_heat_windows():
    known, new = _room(0), _room(1)
    cnn, trees, fallback = Fixed([0.7, 0.2, 0.1]), Fixed([0.1, 0.2, 0.7]), Fixed([0.2, 0.6, 0.2])
    gate = RoomGate(cnn, trees, room_fingerprint(known[None]), fallback=fallback, fallback_background="static-heat")
    np.testing.assert_allclose(gate.probs(_windows(2, known), known), cnn.probs(np.zeros((2,))), atol=1e-6)
    assert not fallback.seen, "the fallback is not consulted in a familiar room"

    wins = _windows(3, new)
    got = gate.probs(wins, np.stack([new, known, new]))
    want = fuse_probs([fallback.p[None], trees.p[None]], [0.5, 0.5])[0]
    np.testing.assert_allclose(got[[0, 2]], [want, want], atol=1e-6)
    np.testing.assert_allclose(got[1], cnn.p, atol=1e-6)
    assert len(fallback.seen[-1]) == 2  # only the new room's windows, minus their static heat
    np.testing.assert_allclose(fallback.seen[-1][0], remove_background(wins[0], new, "static-heat"), atol=1e-5)
    np.testing.assert_allclose(trees.seen[-1][0], remove_background(wins[0], new, "recording-median"), atol=1e-5)


def test_without_a_background_each_window_estimates_its_own_room():
    known, new = _room(0), _room(1)
    gate = RoomGate(Fixed([0.7, 0.2, 0.1]), Fixed([0.1, 0.2, 0.7]), room_fingerprint(known[None]))
    p_known, p_new = gate.probs(_windows(1, known))[0], gate.probs(_windows(1, new))[0]
    assert p_known[0] == pytest.approx(0.7, abs=1e-5) and p_new[0] < 0.5


def test_the_guard_applies_after_the_gate_and_bad_backgrounds_are_refused():
    known, new = _room(0), _room(1)
    gate = RoomGate(Fixed([0.7, 0.2, 0.1]), Fixed([0.1, 0.2, 0.7]), room_fingerprint(known[None]))
    guarded = RareClassGuard(gate, [1.0, 1.0, 0.1])
    p = guarded.probs(_windows(1, new), new)[0]
    want = fuse_probs([np.array([[0.7, 0.2, 0.1]]), np.array([[0.1, 0.2, 0.7]])], [0.5, 0.5])[0] * [1.0, 1.0, 0.1]
    np.testing.assert_allclose(p, want / want.sum(), atol=1e-6)
    assert guarded.similarity(new) < 0.3  # the gate is reachable through the guard
    with pytest.raises(ActlineError, match="empty-room image per window"):
        gate.probs(_windows(2, new), np.zeros((3, *new.shape), np.float32))
    with pytest.raises(ActlineError, match="pixels"):
        gate.similarity(np.zeros((4, 4), np.float32))
    with pytest.raises(ActlineError, match="known rooms must be"):
        RoomGate(gate.cnn, gate.trees, np.zeros((0, new.size), np.float32))


def test_a_room_taught_by_adapt_fuses_the_adapted_cnn_with_the_trees():
    """In a room adapt taught (``taught``), the CNN is fused with the (refit) trees; in the rooms the model was
    trained in, the CNN answers alone; in a new room, the fallback and the trees."""
    trained, taught, new = _room(0), _room(1), _room(2)
    cnn, trees, fallback = Fixed([0.7, 0.2, 0.1]), Fixed([0.1, 0.2, 0.7]), Fixed([0.2, 0.6, 0.2])
    known = room_fingerprint(np.stack([trained, taught]))
    gate = RoomGate(cnn, trees, known, fallback=fallback, taught=[1], threshold=0.5)
    wins = _windows(3, trained)
    got = gate.probs(wins, np.stack([trained, taught, new]))
    np.testing.assert_allclose(got[0], cnn.p, atol=1e-6)
    np.testing.assert_allclose(got[1], fuse_probs([cnn.p[None], trees.p[None]], [0.5, 0.5])[0], atol=1e-6)
    np.testing.assert_allclose(got[2], fuse_probs([fallback.p[None], trees.p[None]], [0.5, 0.5])[0], atol=1e-6)
    untaught = RoomGate(cnn, trees, known, fallback=fallback, threshold=0.5)
    np.testing.assert_allclose(untaught.probs(wins, np.stack([trained, taught, new]))[1], cnn.p, atol=1e-6)
