"""Kill writers at random moments: whatever is on disk afterwards loads (the old version or the new one)."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

WRITER = r"""
import sys, time
from pathlib import Path
import numpy as np, torch
from actline.core.atomic import write_json
from actline.modeldir.directory import save_model_dir
from actline.models import create_model
from actline.data.segments import Segment, write_segments
root = Path(sys.argv[1])
torch.set_num_threads(1)
model = create_model("thermal_r2plus1d", num_classes=3)
i = 0
print("ready", flush=True)
while True:
    i += 1
    write_json(root / "state.json", {"i": i, "payload": list(range(20000))})
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01)
    save_model_dir(root / "model", model, {"pipeline": "clip-classifier", "arch": model.arch, "classes": ["a", "b", "c"],
                                           "window": {"length": 16, "mode": "index", "fps": 10.0}, "i": i})
    write_segments(root / "timeline.csv", [Segment(k, k + 1, f"s{i}") for k in range(2000)])
"""


@pytest.mark.slow
def test_killed_writers_leave_loadable_files(tmp_path):
    from actline.data.segments import read_segments
    from actline.modeldir.reader import load_model_dir

    rng = np.random.default_rng(0)
    seen_models = 0
    for round_ in range(8):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(float(rng.uniform(0.05, 1.5)))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        state = tmp_path / "state.json"
        if state.exists():
            assert len(json.loads(state.read_text())["payload"]) == 20000
        if (tmp_path / "model").exists() or (tmp_path / ".model.old").exists():
            _, cfg = load_model_dir(tmp_path / "model")  # refuses nothing: old or new, never torn
            assert cfg["i"] >= 1
            seen_models += 1
        if (tmp_path / "timeline.csv").exists():
            segs = read_segments(tmp_path / "timeline.csv")
            assert len(segs) == 2000 and len({s.label for s in segs}) == 1
    assert seen_models >= 4  # the writer got far enough, often enough, to test something
