"""Fixtures of the label page's tests: a small labelled data set, a review queue, and the page's server."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from actline.data.dataset import Recording
from actline.data.labels import LabelledSegment, write_labelled_dataset
from actline.data.labels.review_queue import add_item

CLASSES = ["idle", "walk", "fall"]


def recording(name: str, n: int = 200, shape=(40, 60), seed: int = 0, gap_at: int | None = 120) -> Recording:
    """A warm blob on a cool floor, at an irregular ~10 fps with a 3 s gap; a dead pixel at (0, 0)."""
    rng = np.random.default_rng(seed)
    frames = rng.normal(21.0, 0.2, (n, *shape)).astype(np.float32)
    for i in range(n):
        y, x = (i // 4) % (shape[0] - 4), (i // 2) % (shape[1] - 4)
        frames[i, y:y + 4, x:x + 4] += 8.0
    frames[:, 0, 0] = -273.2
    dt = rng.uniform(0.07, 0.13, n - 1)
    if gap_at is not None:
        dt[gap_at] = 3.0
    ts = 1_700_000_000.0 + np.round(np.r_[0.0, np.cumsum(dt)], 3)
    return Recording(id=name, frames=frames, timestamps=ts, group=name.split("_")[0])


@pytest.fixture
def labelled_data(tmp_path) -> Path:
    recs = {r.id: r for r in (recording("SL14_R1"), recording("SL15_R2", n=80, seed=1, gap_at=None))}
    return write_labelled_dataset(tmp_path / "data", recs, [LabelledSegment("SL14_R1", 1.0, 4.0, "idle")], CLASSES)


@pytest.fixture
def review_dir(tmp_path) -> Path:
    """Two open items: the model says walk (62%) and fall (48%)."""
    queue = tmp_path / "queue"
    for k, top3 in enumerate(([["walk", 0.62], ["idle", 0.3], ["fall", 0.08]], [["fall", 0.48], ["idle", 0.4], ["walk", 0.12]])):
        rec = recording("x_y", n=24, shape=(16, 16), seed=5 + k, gap_at=None)
        add_item(queue, rec.frames, rec.timestamps, recording=f"SL20_bed{k}", start_s=10.0 * k, end_s=10.0 * k + 2.3,
                 top3=top3, model="ab" * 32, source="uncertain")
        time.sleep(0.01)
    return queue


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The label page's application on a real uvicorn in a thread (what `actline label` runs)."""

    def __init__(self, app):
        import uvicorn

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the label server did not start")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{self.port}/"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def label_server(labelled_data, review_dir):
    from actline.apps.label import create_label_app

    server = Server(create_label_app(labelled_data, review_dir))
    yield server
    server.stop()
