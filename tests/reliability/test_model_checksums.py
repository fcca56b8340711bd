"""Model weights are never loaded unchecked: a model directory whose checksums.json is missing, or does not
list the weights, is refused with one line naming the file (issue #14: weights without a recorded SHA-256
used to load without any check)."""

import json

import pytest
import torch

from actline.core.errors import ActlineError
from actline.infer import Recognizer
from actline.modeldir.directory import save_model_dir
from actline.modeldir.reader import load_model_dir
from actline.models import create_model


@pytest.fixture
def model_dir(tmp_path):
    torch.manual_seed(0)
    model = create_model("thermal_r2plus1d", num_classes=3).eval()
    return save_model_dir(tmp_path / "model", model, {
        "pipeline": "clip-classifier", "arch": model.arch, "classes": ["a", "b", "c"],
        "window": {"length": 16, "mode": "index", "fps": 10.0}, "preprocessing": {"frame_shape": [16, 16]}})


def _refused(path, words, names):
    for load in (load_model_dir, Recognizer.load):
        with pytest.raises(ActlineError, match=words) as err:
            load(path)
        assert names in str(err.value) and "\n" not in str(err.value)


def test_a_directory_without_checksums_is_refused(model_dir):
    (model_dir / "checksums.json").unlink()
    _refused(model_dir, "no checksums.json: the files cannot be verified", str(model_dir))


def test_weights_missing_from_the_checksums_are_refused(model_dir):
    sums_path = model_dir / "checksums.json"
    sums = json.loads(sums_path.read_text())
    del sums["model.safetensors"]
    sums_path.write_text(json.dumps(sums))
    _refused(model_dir, "has no checksum in checksums.json", str(model_dir / "model.safetensors"))


def test_a_checksum_that_is_not_a_digest_is_refused(model_dir):
    sums_path = model_dir / "checksums.json"
    sums_path.write_text(json.dumps({**json.loads(sums_path.read_text()), "model.safetensors": None}))
    _refused(model_dir, "checksum mismatch", str(model_dir / "model.safetensors"))
