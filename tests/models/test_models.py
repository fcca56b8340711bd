import pytest
import torch

from actline.core.errors import ActlineError
from actline.models import create_model, list_models


@pytest.mark.parametrize("name,shape", [
    ("thermal_r2plus1d", (2, 1, 16, 40, 60)),
    ("thermal_r2plus1d", (2, 1, 16, 16, 16)),
    ("thermal_frame_tcn", (2, 1, 16, 40, 60)),
    ("thermal_frame_tcn", (2, 1, 8, 16, 16)),
    ("slowfast_r50", (2, 1, 16, 40, 60)),
    ("slowfast_r50_ptv", (2, 1, 16, 40, 60)),
    ("r3d_18", (2, 1, 8, 40, 60)),
    ("r2plus1d_18", (2, 1, 8, 40, 60)),
    ("mc3_18", (2, 1, 8, 40, 60)),
    ("s3d", (2, 1, 8, 40, 60)),
])
def test_forward_backward_tiny(name, shape):
    torch.manual_seed(0)
    model = create_model(name, num_classes=5, in_chans=1)
    x = torch.randn(*shape) + 22.0
    y = model(x)
    assert y.shape == (shape[0], 5) and torch.isfinite(y).all()
    y.logsumexp(dim=1).mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)


def test_thermal_models_ignore_room_temperature_offset():
    model = create_model("thermal_r2plus1d", num_classes=3).eval()
    x = torch.randn(1, 1, 16, 40, 60)
    with torch.no_grad():
        assert torch.allclose(model(x + 20), model(x + 27), atol=1e-4)


def test_registry_lists_and_rejects():
    names = list_models()
    assert {"thermal_r2plus1d", "thermal_frame_tcn", "slowfast_r50", "r3d_18", "s3d"} <= set(names)
    with pytest.raises(ActlineError, match="unknown model 'nope'; known models"):
        create_model("nope", num_classes=2)


def test_ensemble_averages_member_probabilities():
    a = create_model("thermal_r2plus1d", num_classes=4).eval()
    b = create_model("thermal_r2plus1d", num_classes=4).eval()
    ens = create_model("ensemble", num_classes=4, member=a.arch, n=2).eval()
    ens.members[0].load_state_dict(a.state_dict())
    ens.members[1].load_state_dict(b.state_dict())
    x = torch.randn(2, 1, 16, 16, 16) + 20
    with torch.no_grad():
        want = (torch.softmax(a(x), 1) + torch.softmax(b(x), 1)) / 2
        assert torch.allclose(torch.softmax(ens(x), 1), want, atol=1e-5)
