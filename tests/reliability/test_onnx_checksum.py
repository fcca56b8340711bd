"""An exported ONNX file carries its checksum (``<file>.sha256``, or its model directory's checksums.json; an
exported timeline model has a checksums.json of its own), and every load verifies it: a changed or
unverifiable file is refused with one line naming it."""

import hashlib
import shutil

import pytest
import torch

from actline.apps.onnx_export import export_model
from actline.core.errors import ActlineError
from actline.infer import Recognizer
from actline.modeldir.directory import save_model_dir
from actline.models import create_model

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    torch.manual_seed(0)
    model = create_model("thermal_r2plus1d", num_classes=3).eval()
    cfg = {"pipeline": "clip-classifier", "arch": model.arch, "classes": ["a", "b", "c"],
           "window": {"length": 16, "mode": "index", "fps": 10.0}, "preprocessing": {"frame_shape": [16, 16]}}
    path = save_model_dir(tmp_path_factory.mktemp("m") / "model", model, cfg)
    export_model(path)  # model/model.onnx, listed in model/checksums.json
    return path


def _refused(path, words):
    with pytest.raises(ActlineError, match=words) as err:
        Recognizer.load(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_export_outside_the_model_directory_writes_a_sidecar(model_dir, tmp_path):
    out = tmp_path / "edge.onnx"
    export_model(model_dir, out)
    sidecar = tmp_path / "edge.onnx.sha256"
    assert sidecar.read_text() == f"{hashlib.sha256(out.read_bytes()).hexdigest()}  edge.onnx\n"  # sha256sum -c
    assert Recognizer.load(out).classes == ["a", "b", "c"]


def test_a_changed_onnx_file_is_refused(model_dir, tmp_path):
    out = tmp_path / "edge.onnx"
    export_model(model_dir, out)
    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit in the weights: ONNX Runtime would load it without complaint
    out.write_bytes(bytes(data))
    _refused(out, "checksum mismatch")


def test_an_onnx_file_without_a_checksum_is_refused(model_dir, tmp_path):
    out = tmp_path / "edge.onnx"
    export_model(model_dir, out)
    (tmp_path / "edge.onnx.sha256").unlink()
    _refused(out, "no checksum")
    copied = tmp_path / "copied.onnx"  # copied out of its model directory, alone
    shutil.copyfile(model_dir / "model.onnx", copied)
    _refused(copied, "no checksum")
    assert Recognizer.load(model_dir / "model.onnx").classes == ["a", "b", "c"]  # in place: checksums.json


def test_a_stranger_in_a_model_directory_needs_its_own_checksum(model_dir, tmp_path):
    stranger = model_dir / "other.onnx"
    shutil.copyfile(model_dir / "model.onnx", stranger)
    try:
        _refused(stranger, "no checksum")
    finally:
        stranger.unlink()


def test_a_bad_sidecar_is_refused(model_dir, tmp_path):
    out = tmp_path / "edge.onnx"
    export_model(model_dir, out)
    (tmp_path / "edge.onnx.sha256").write_text("not a digest\n")
    _refused(out, "sha256")


def test_an_exported_timeline_model_is_verified_file_by_file(timeline_model, tmp_path):
    import actline

    out = tmp_path / "onnx"
    export_model(timeline_model, out)
    assert type(actline.load(out).backend).__name__ == "OnnxTimelineBackend"
    for name in ("stage1.onnx", "config.json"):
        original = (out / name).read_bytes()
        (out / name).write_bytes(original.replace(b"a", b"b", 1))
        with pytest.raises(ActlineError, match="checksum mismatch") as err:
            actline.load(out)
        assert str(out / name) in str(err.value)
        (out / name).write_bytes(original)
    (out / "checksums.json").unlink()
    with pytest.raises(ActlineError, match="no checksums.json"):
        actline.load(out)
