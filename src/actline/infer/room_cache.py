"""Empty rooms kept per recording (sensor) between predictions: bounded in count, each expiring.

A prediction on one window needs the empty room of its recording, and estimating it from the window
is most of the work (:meth:`Recognizer.estimate_room <actline.infer.recognizer.Recognizer.estimate_room>`).
A caller that predicts window after window of one recording (the HTTP service, given a recording id)
estimates it on the first window and keeps it here: :meth:`RoomCache.get_or_estimate`. At most
``max_rooms`` are kept (the least recently used goes first) and each expires ``ttl_s`` seconds after it
was estimated, so a sensor whose room changes (furniture moved, a heater installed) gets a fresh
estimate, and nobody can grow the cache without bound by sending new ids.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import numpy as np


class RoomCache:
    """LRU of ``max_rooms`` rooms ([H, W] float32), each kept ``ttl_s`` seconds from its estimate; thread-safe."""

    def __init__(self, max_rooms: int = 1024, ttl_s: float = 3600.0, clock: Callable[[], float] = time.monotonic):
        if max_rooms < 1 or not ttl_s > 0:
            raise ValueError(f"need max_rooms >= 1 and ttl_s > 0, got {max_rooms}, {ttl_s}")
        self.max_rooms, self.ttl_s, self.clock = int(max_rooms), float(ttl_s), clock
        self._rooms: OrderedDict[str, tuple[float, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._rooms)

    def get(self, key: str) -> np.ndarray | None:
        """The room kept for ``key`` (marked as recently used), or None (never kept, evicted or expired)."""
        with self._lock:
            found = self._rooms.get(key)
            if found is None:
                return None
            if self.clock() - found[0] >= self.ttl_s:
                del self._rooms[key]
                return None
            self._rooms.move_to_end(key)
            return found[1]

    def put(self, key: str, room) -> np.ndarray:
        """Keep ``room`` for ``key`` (a read-only copy, which is returned), evicting the least recently used."""
        room = np.array(room, dtype=np.float32)  # a private copy: callers may reuse their array
        room.setflags(write=False)
        with self._lock:
            self._rooms[key] = (self.clock(), room)
            self._rooms.move_to_end(key)
            while len(self._rooms) > self.max_rooms:
                self._rooms.popitem(last=False)
        return room

    def get_or_estimate(self, key: str, estimate: Callable[[], np.ndarray]) -> tuple[np.ndarray, bool]:
        """(room, whether it was kept already): the kept room of ``key``, else ``estimate()`` kept for it.
        Two first calls on one key at once may both estimate; the later estimate is kept."""
        room = self.get(key)
        if room is not None:
            self.hits += 1
            return room, True
        self.misses += 1
        return self.put(key, estimate()), False
