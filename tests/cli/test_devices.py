"""--device and --threads reach the model the command opens, and the device is checked where torch is."""

from __future__ import annotations

import pytest

from actline.cli import main
from actline.core.errors import ActlineError


class Opened(Exception):
    pass


@pytest.fixture
def opened(monkeypatch):
    """Every way a command opens a model, recording how it was asked to open it (then stopping the command)."""
    from actline.infer import Recognizer
    from actline.infer.timeline_pipeline import TimelinePipeline

    seen = []

    def record(*args, **kwargs):
        seen.append({k: kwargs.get(k) for k in ("device", "threads")})
        raise Opened

    monkeypatch.setattr(Recognizer, "load", record)
    monkeypatch.setattr(TimelinePipeline, "load", record)
    return seen


@pytest.mark.parametrize("argv", [
    ["predict", "M", "r.h5"],
    ["timeline", "M", "v.mp4"],
    ["stream", "M", "--replay", "r.h5"],
    ["evaluate-stream", "M", "--data", "D"],
], ids=lambda a: a[0])
def test_device_and_threads_reach_the_model(argv, opened):
    with pytest.raises(Opened):
        main([*argv, "--device", "cpu", "--threads", "2"])
    with pytest.raises(Opened):
        main(argv)
    assert opened == [{"device": "cpu", "threads": 2}, {"device": "auto", "threads": 0}]


def test_training_takes_them_as_settings(monkeypatch, tmp_path):
    import actline.runs.launch as launch

    seen = []
    monkeypatch.setattr(launch, "launch", lambda data, out, cfg, *a, **k: seen.append(cfg))
    main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "run"), "--device", "cpu", "--threads", "1"])
    main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "run")])
    assert (seen[0].device, seen[0].num_threads) == ("cpu", 1)
    assert (seen[1].device, seen[1].num_threads) == ("auto", 0)  # the config's own: a GPU when there is one


def test_auto_is_the_cpu_without_a_gpu_and_a_missing_gpu_is_refused():
    torch = pytest.importorskip("torch")
    from actline.modeldir.reader import torch_runtime

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    before = torch.get_num_threads()
    try:
        assert torch_runtime("auto", 1, "M") == "cpu" and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert torch_runtime("cpu", 0, "M") == "cpu" and torch.get_num_threads() == before  # 0: left as it was
    with pytest.raises(ActlineError, match=r"^M: device 'cuda:1' requested but no GPU is available$"):
        torch_runtime("cuda:1", 0, "M")
