"""Rooms kept per recording: the estimate is made once and reused, bounded in count and expiring."""

import numpy as np
import pytest
import torch

import actline.infer.recognizer as recognizer_module
from actline.data import background
from actline.infer import Recognizer
from actline.infer.room_cache import RoomCache
from actline.modeldir.directory import save_model_dir
from actline.models import create_model


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_the_cache_drops_the_least_recently_used_and_expires_rooms():
    clock = Clock()
    cache = RoomCache(max_rooms=2, ttl_s=10.0, clock=clock)
    a, b, c = (np.full((2, 3), v, np.float32) for v in (1, 2, 3))
    cache.put("a", a)
    cache.put("b", b)
    assert cache.get("a")[0, 0] == 1  # "a" is now the most recently used
    cache.put("c", c)
    assert cache.get("b") is None and len(cache) == 2  # "b" went first
    clock.t = 9.9
    assert cache.get("c") is not None
    clock.t = 10.5  # "a" and "c" were estimated at 0: both expired
    assert cache.get("a") is None and cache.get("c") is None and len(cache) == 0
    a[:] = 7  # the cache holds its own read-only copy
    kept = cache.put("a", np.ones((2, 3)))
    assert not kept.flags.writeable
    with pytest.raises(ValueError):
        RoomCache(max_rooms=0)


def test_get_or_estimate_estimates_once_per_recording():
    cache, calls = RoomCache(), []

    def estimate():
        calls.append(1)
        return np.zeros((4, 4))

    assert cache.get_or_estimate("S1", estimate)[1] is False
    assert cache.get_or_estimate("S1", estimate)[1] is True
    assert cache.get_or_estimate("S2", estimate)[1] is False
    assert len(calls) == 2 and (cache.hits, cache.misses) == (1, 2)


@pytest.fixture(scope="module")
def room_model(tmp_path_factory):
    """A 16x16 model whose windows have their static heat removed: every prediction reads the empty room."""
    torch.manual_seed(0)
    model = create_model("thermal_r2plus1d", num_classes=3).eval()
    cfg = {"pipeline": "clip-classifier", "arch": model.arch, "classes": ["a", "b", "c"],
           "window": {"length": 16, "mode": "index", "fps": 10.0, "background": "static-heat"},
           "preprocessing": {"frame_shape": [16, 16]}}
    return save_model_dir(tmp_path_factory.mktemp("rooms") / "model", model, cfg)


def test_predict_estimates_the_room_once_per_call_and_never_when_given(room_model, monkeypatch):
    r = Recognizer.load(room_model)
    calls = []
    real = background.estimate_window_background
    monkeypatch.setattr(recognizer_module, "estimate_window_background", lambda f, *a, **k: calls.append(1) or real(f))
    frames = np.random.default_rng(0).normal(21, 0.3, (40, 16, 16)).astype(np.float32)
    frames[:, 4:8, 4:8] += 6.0
    p = r.predict(frames)
    assert len(calls) == 1 and r.needs_room
    room = r.estimate_room(frames)
    assert len(calls) == 2
    q = r.predict(frames, room=room)
    assert len(calls) == 2 and np.allclose(p.probs, q.probs, atol=1e-6)  # the same room, given instead of estimated
    batch = r.predict_batch([frames, frames[::-1]], room=room)
    assert len(calls) == 2 and np.allclose(batch[0].probs, q.probs, atol=1e-6)
