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


def _input_gradient_by_step(model, t):
    torch.manual_seed(0)
    x = torch.randn(1, 1, t, 40, 60, requires_grad=True)
    model.eval()
    model(x)[0].sum().backward()
    g = x.grad.abs().sum(dim=(0, 1, 3, 4))
    return g / g.sum()


@pytest.mark.parametrize("t", [16, 32])
def test_centred_temporal_pooling_weighs_the_whole_window(t):
    # stride-2 convolutions padded on the left put about half of a 16-step window's evidence on its
    # first two steps and none on its last; averaging pairs keeps every step within 2x of uniform
    # (measured: 0.05-0.07 per step at 16, 0.02-0.03 at 32; the strided design gives 0.49 / 0.00)
    torch.manual_seed(0)
    g = _input_gradient_by_step(create_model("thermal_r2plus1d_lite", 5, temporal="centred"), t)
    assert float(g.max()) < 2.5 / t and float(g.min()) > 0.4 / t
    torch.manual_seed(0)
    legacy = _input_gradient_by_step(create_model("thermal_r2plus1d_lite", 5), t)
    assert float(legacy[:2].sum()) > 2 * float(g[:2].sum())  # the default (strided) leans on the start


def test_temporal_design_is_recorded_and_checked():
    m = create_model("thermal_r2plus1d_lite", 4, temporal="centred")
    assert m.arch["temporal"] == "centred"  # written to config.json, so the directory reloads as trained
    with pytest.raises(ValueError, match="temporal"):
        create_model("thermal_r2plus1d", 4, temporal="sideways")


@pytest.mark.parametrize("name", ["thermal_r2plus1d", "thermal_r2plus1d_lite"])
def test_weights_keep_the_names_of_earlier_model_directories(name):
    # model directories saved before the centred option (0.2) name the skip path's convolution skip.0
    # and its norm skip.1; load_model_dir is strict, so a renamed tensor would refuse every one of them
    keys = set(create_model(name, 4).state_dict())
    assert {"layers.0.skip.0.weight", "layers.0.skip.1.weight", "layers.0.skip.1.running_mean"} <= keys
    assert set(create_model(name, 4, temporal="centred").state_dict()) == keys  # the pooling has no weights


@pytest.mark.parametrize("temporal", ["strided", "centred"])
def test_weights_saved_by_0_3_0_load_as_trained(tmp_path, temporal):
    # 0.3.0 put a weightless module first in the skip path (its convolution was skip.1, its norm skip.2);
    # a directory it wrote must load through the strict loader and predict exactly as the model did
    from actline.modeldir.directory import save_model_dir
    from actline.modeldir.reader import load_model_dir

    torch.manual_seed(0)
    model = create_model("thermal_r2plus1d_lite", 3, temporal=temporal).eval()
    with torch.no_grad():  # give the norms' statistics values a wrong mapping would show
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm3d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
    d = save_model_dir(tmp_path / "m", model, {"pipeline": "clip-classifier", "arch": model.arch, "classes": ["a", "b", "c"],
                                               "window": {"length": 16, "mode": "index", "fps": 10.0}})
    from safetensors.torch import load_file, save_file

    from actline.modeldir.directory import write_checksums

    state = load_file(str(d / "model.safetensors"))
    old = {k.replace(".skip.1.", ".skip.2.").replace(".skip.0.", ".skip.1."): v for k, v in state.items()}
    assert old != state
    save_file(old, str(d / "model.safetensors"), metadata={"format": "pt"})
    write_checksums(d)
    loaded, _ = load_model_dir(d)
    x = torch.randn(2, 1, 16, 16, 16)
    torch.testing.assert_close(loaded(x), model(x))
