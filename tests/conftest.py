from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

# `make test` runs the suite on two pytest-xdist workers (CI has two cores): each worker, and every command
# it starts, then computes on one thread, so the two never fight over a core. The tests that assert a score
# were checked under 1 and 2 threads (their comments say so), so one thread changes none of their bounds.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["MKL_NUM_THREADS"] = "1"

from actline.data.synth.thermal_set import SynthConfig, generate_thermal_dataset  # noqa: E402 (after the thread setting)

SHARED_DATA = Path(os.environ.get("ACTLINE_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


def shared_path(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test with the reason when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not present at {path} (a fresh clone without ../shared/data skips this test)")
    return path


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory) -> Path:
    """A small synthetic ThermalDataGen data set: 4 recordings of 60 s."""
    out = tmp_path_factory.mktemp("synth") / "thermal"
    return generate_thermal_dataset(out, SynthConfig(n_recordings=4, duration_s=60.0, seed=3))


@pytest.fixture
def one_thread():
    """Tiny models train faster on one thread, and do not stall when another process holds a core."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def rgb(tmp_path_factory) -> Path:
    """Synthetic assembly clips (7 fine actions x 6) and two 50 s videos with ground truth."""
    from actline.data.synth.assembly_video import generate_rgb_dataset

    return generate_rgb_dataset(tmp_path_factory.mktemp("rgb"), rgb_config())


def rgb_config(seed: int = 1):
    """The ``rgb`` fixture's generator settings (benchmarks/timeline_test_spread.py varies the seed)."""
    from actline.data.synth.assembly_video import RGBSynthConfig

    return RGBSynthConfig(clips_per_action=6, long_videos=2, long_seconds=50, seed=seed)


@pytest.fixture(scope="session")
def timeline_model(rgb, tmp_path_factory) -> Path:
    """A two-stage timeline model trained through the CLI on random-weight features (no download)."""
    from actline.cli import main

    out = tmp_path_factory.mktemp("timeline") / "model"
    main(["train-timeline", "--data", str(rgb / "clips"), "--out", str(out), "--cache", str(rgb / "cache"), *TIMELINE_ARGS])
    return out


# how the timeline_model fixture trains (a resumed run must end with the same model)
TIMELINE_SETTINGS = ("backbone=thermal_r2plus1d", "weights=none", "size=64", "stride=8", "epochs=30", "stage2_epochs=40",
                     "num_threads=1")
TIMELINE_ARGS = ("--quiet", *(a for s in TIMELINE_SETTINGS for a in ("--set", s)))


@pytest.fixture(scope="session")
def small_data(tmp_path_factory) -> Path:
    """Synthetic thermal data large enough to learn from in a few epochs: 4 recordings of 90 s, 8-12 fps."""
    return generate_thermal_dataset(tmp_path_factory.mktemp("e2e") / "data",
                                    SynthConfig(n_recordings=4, duration_s=90.0, seed=7, fps_range=(8.0, 12.0)))


@pytest.fixture(scope="session")
def thermal_timeline_model(tmp_path_factory) -> Path:
    """A thermal timeline model trained for one epoch on a tiny Nagoya-layout data set (beside it, in ../nag)."""
    import torch

    from actline.cli import main
    from actline.data.nagoya import read_nagoya
    from actline.modeldir.directory import save_model_dir
    from actline.models import create_model
    from tests.data.test_nagoya import _tiny_dataset

    root = tmp_path_factory.mktemp("thermal-timeline")
    data = _tiny_dataset(root / "nag", n=60)
    classes = read_nagoya(data, unlabelled="none").classes
    torch.manual_seed(0)
    enc = create_model("thermal_r2plus1d", num_classes=len(classes), in_chans=1)
    save_model_dir(root / "enc", enc, {"pipeline": "clip-classifier", "arch": enc.arch, "classes": classes,
                                       "window": {"length": 16, "mode": "index", "background": "none"}})
    main(["train-timeline", "--data", str(data), "--out", str(root / "tl"), "--backbone", str(root / "enc"), "--weights", "none",
          "--quiet", "--set", "stride=8", "--set", "epochs=1", "--set", "val_fraction=0", "--set", "num_threads=1",
          "--cache", str(root / "cache")])
    return root / "tl"


@contextmanager
def mosquitto(root: Path):
    """A real Mosquitto (Debian's package; `make test` installs it) on a free loopback port, its
    configuration and log under ``root``: yields (host, port, log file). Subscriptions are logged
    (``<client> 1 <pattern>``), so a test can wait until a subscriber is listening. Skips the test
    with the reason where it cannot start."""
    pytest.importorskip("paho.mqtt.client", reason="paho-mqtt not installed (pip install 'actline[mqtt]')")
    exe = shutil.which("mosquitto") or next((p for p in ("/usr/sbin/mosquitto",) if Path(p).is_file()), None)
    if exe is None:
        pytest.skip("mosquitto not installed (Debian package mosquitto; `make broker` installs it where it may)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf, log = root / "mosquitto.conf", root / "mosquitto.log"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "max_queued_messages 100000\nmax_inflight_messages 0\n"
                    + "".join(f"log_type {t}\n" for t in ("error", "warning", "notice", "information", "subscribe")),
                    encoding="utf-8")
    with open(log, "w") as log_fh:
        proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=log_fh)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.skip(f"mosquitto would not start: {log.read_text()[-300:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.skip("mosquitto did not open its port within 10 s")
        yield "127.0.0.1", port, log
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def broker(tmp_path_factory):
    """A real Mosquitto on a free loopback port, shared by the session's tests: (host, port)."""
    with mosquitto(tmp_path_factory.mktemp("mosquitto")) as (host, port, _log):
        yield host, port
