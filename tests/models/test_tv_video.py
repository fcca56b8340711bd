"""torchvision video models: weights from a local file (made here) and enum names, never downloaded in tests."""

import pytest
import torch
import torchvision.models.video as tvv

from actline.core.errors import ActlineError
from actline.models import create_model
from actline.models.tv_video import resolve_weights


def test_local_weights_file_is_loaded_and_stem_summed(tmp_path):
    torch.manual_seed(0)
    reference = tvv.r3d_18(weights=None)
    path = tmp_path / "r3d_18_kinetics.pth"
    torch.save(reference.state_dict(), path)
    model = create_model("r3d_18", num_classes=6, in_chans=1, weights=str(path))
    torch.testing.assert_close(model.stem[0].weight, reference.stem[0].weight.sum(dim=1, keepdim=True))
    torch.testing.assert_close(model.layer3[0].conv1[0].weight, reference.layer3[0].conv1[0].weight)
    assert model(torch.randn(1, 1, 8, 40, 60)).shape == (1, 6)


def test_enum_names_resolve_without_downloading():
    w = resolve_weights("r3d_18", "KINETICS400_V1")
    assert w is tvv.R3D_18_Weights.KINETICS400_V1
    assert resolve_weights("s3d", "DEFAULT") is tvv.S3D_Weights.DEFAULT
    assert resolve_weights("r3d_18", None) is None


def test_bad_weights_are_clear_errors(tmp_path):
    with pytest.raises(ActlineError, match="unknown weights 'IMAGENET'"):
        resolve_weights("r3d_18", "IMAGENET")
    with pytest.raises(ActlineError, match="weights file not found"):
        create_model("r3d_18", num_classes=2, weights=str(tmp_path / "missing.pth"))
    bad = tmp_path / "bad.pth"
    torch.save({"fc.weight": torch.zeros(3, 3)}, bad)
    with pytest.raises(ActlineError, match="weights do not fit r3d_18"):
        create_model("r3d_18", num_classes=2, weights=str(bad))
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ActlineError, match="cannot read weights"):
        create_model("r3d_18", num_classes=2, weights=str(junk))
