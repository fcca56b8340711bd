"""Fixtures of the streaming tests: a tiny real model and a recording to replay."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def small_model_and_recording(tmp_path_factory) -> tuple[Path, Path]:
    """A random-weight thermal_r2plus1d model directory (16x16 frames, 8-frame windows) and a 30 s recording."""
    import torch

    from actline.data.thermal_h5 import write_recording_h5
    from actline.modeldir.directory import save_model_dir
    from actline.models import create_model

    root = tmp_path_factory.mktemp("stream-model")
    torch.manual_seed(0)
    model = create_model("thermal_r2plus1d", num_classes=3).eval()
    cfg = {"pipeline": "clip-classifier", "arch": model.arch, "classes": ["c0", "c1", "c2"],
           "window": {"length": 8, "mode": "index", "fps": 10.0, "background": "recording-median"},
           "preprocessing": {"frame_shape": [16, 16]}}
    model_dir = save_model_dir(root / "model", model, cfg)
    rng = np.random.default_rng(0)
    frames = (20 + rng.normal(0, 0.2, (300, 16, 16))).astype(np.float32)
    for i in range(300):  # a warm blob wandering about
        y, x = 4 + int(6 * abs(np.sin(i / 40))), 3 + (i // 10) % 10
        frames[i, y:y + 3, x:x + 3] += 5.0
    rec = write_recording_h5(root / "rec.h5", frames, 1_700_000_000_000 + np.arange(300) * 100, "rec")
    return model_dir, Path(rec)


@pytest.fixture(scope="session")
def broker(tmp_path_factory):
    """A real Mosquitto (Debian's package; `make test` installs it) on a free loopback port: (host, port)."""
    import shutil
    import socket
    import subprocess
    import time

    pytest.importorskip("paho.mqtt.client", reason="paho-mqtt not installed (pip install 'actline[mqtt]')")
    exe = shutil.which("mosquitto") or next((p for p in ("/usr/sbin/mosquitto",) if Path(p).is_file()), None)
    if exe is None:
        pytest.skip("mosquitto not installed (Debian package mosquitto; `make broker` installs it where it may)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = tmp_path_factory.mktemp("mosquitto")
    conf = root / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "max_queued_messages 100000\nmax_inflight_messages 0\n", encoding="utf-8")
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=open(root / "log", "w"))  # noqa: SIM115
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.skip(f"mosquitto would not start: {(root / 'log').read_text()[-300:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        pytest.skip("mosquitto did not open its port within 10 s")
    yield "127.0.0.1", port
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def small_onnx_model(small_model_and_recording, tmp_path_factory) -> Path:
    """The small model exported to ONNX: a stream subprocess starts in half a second, without torch."""
    from actline.apps.onnx_export import export_model

    model, _ = small_model_and_recording
    return Path(export_model(model, tmp_path_factory.mktemp("onnx") / "model.onnx")["path"])
