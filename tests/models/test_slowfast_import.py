"""Loading the SlowFast checkpoints users already have, from state dicts built with the published names."""

import pickle
import sys
import types

import pytest
import torch

from actline.core.errors import ActlineError
from actline.models import create_model
from actline.models.import_checkpoint import load_foreign_checkpoint
from actline.models.slowfast import load_slowfast_checkpoint

BLOCKS = (3, 4, 6, 3)


def _bn(prefix, c, out):
    out[f"{prefix}.weight"] = torch.rand(c)
    out[f"{prefix}.bias"] = torch.rand(c)
    out[f"{prefix}.running_mean"] = torch.rand(c)
    out[f"{prefix}.running_var"] = torch.rand(c) + 0.5
    out[f"{prefix}.num_batches_tracked"] = torch.tensor(7)


def mmaction_state(num_classes=400, in_chans=3):
    """MMAction2 slowfast_r50 (alpha=8, beta_inv=8, fusion kernel 5, lateral convs without BN)."""
    sd = {}

    def conv_module(prefix, cin, cout, k, norm=True):
        sd[f"{prefix}.conv.weight"] = torch.randn(cout, cin, *k) * 0.01
        if norm:
            _bn(f"{prefix}.bn", cout, sd)

    for path, base, stem_kt, inflate, lateral in (("slow_path", 64, 1, (0, 0, 1, 1), True),
                                                  ("fast_path", 8, 5, (1, 1, 1, 1), False)):
        p = f"backbone.{path}"
        conv_module(f"{p}.conv1", in_chans, base, (stem_kt, 7, 7))
        if lateral:
            conv_module(f"{p}.conv1_lateral", 8, 16, (5, 1, 1), norm=False)
        inplanes = base
        for i, n in enumerate(BLOCKS):
            planes = base * 2 ** i
            extra = inplanes * 2 // 8 if lateral else 0
            for j in range(n):
                cin = inplanes + extra if j == 0 else planes * 4
                kt = 3 if inflate[i] else 1
                conv_module(f"{p}.layer{i + 1}.{j}.conv1", cin, planes, (kt, 1, 1))
                conv_module(f"{p}.layer{i + 1}.{j}.conv2", planes, planes, (1, 3, 3))
                conv_module(f"{p}.layer{i + 1}.{j}.conv3", planes, planes * 4, (1, 1, 1))
                if j == 0:
                    conv_module(f"{p}.layer{i + 1}.0.downsample", cin, planes * 4, (1, 1, 1))
            inplanes = planes * 4
            if lateral and i < 3:
                conv_module(f"{p}.layer{i + 1}_lateral", inplanes // 8, inplanes * 2 // 8, (5, 1, 1), norm=False)
    sd["cls_head.fc_cls.weight"] = torch.randn(num_classes, 2304) * 0.01
    sd["cls_head.fc_cls.bias"] = torch.zeros(num_classes)
    return sd


def pytorchvideo_state(num_classes=400, in_chans=3):
    """PyTorchVideo slowfast_r50 (alpha=4, fusion kernel 7 with BN, head blocks.6.proj)."""
    sd = {}

    def conv(name, cin, cout, k):
        sd[f"{name}.weight"] = torch.randn(cout, cin, *k) * 0.01

    for pi, (base, kt) in enumerate(((64, 1), (8, 5))):
        conv(f"blocks.0.multipathway_blocks.{pi}.conv", in_chans, base, (kt, 7, 7))
        _bn(f"blocks.0.multipathway_blocks.{pi}.norm", base, sd)
    conv("blocks.0.multipathway_fusion.conv_fast_to_slow", 8, 16, (7, 1, 1))
    _bn("blocks.0.multipathway_fusion.norm", 16, sd)
    dim_in, dim_out = 64, 256
    for s, n in enumerate(BLOCKS, start=1):
        for pi, (ratio, kts) in enumerate(((1, (1, 1, 3, 3)), (8, (3, 3, 3, 3)))):
            din = dim_in + dim_in * 2 // 8 if pi == 0 else dim_in // 8
            inner, dout = dim_out // 4 // ratio, dim_out // ratio
            for j in range(n):
                b = f"blocks.{s}.multipathway_blocks.{pi}.res_blocks.{j}"
                cin = din if j == 0 else dout
                if j == 0:
                    conv(f"{b}.branch1_conv", cin, dout, (1, 1, 1))
                    _bn(f"{b}.branch1_norm", dout, sd)
                conv(f"{b}.branch2.conv_a", cin, inner, (kts[s - 1], 1, 1))
                _bn(f"{b}.branch2.norm_a", inner, sd)
                conv(f"{b}.branch2.conv_b", inner, inner, (1, 3, 3))
                _bn(f"{b}.branch2.norm_b", inner, sd)
                conv(f"{b}.branch2.conv_c", inner, dout, (1, 1, 1))
                _bn(f"{b}.branch2.norm_c", dout, sd)
        if s < 4:
            conv(f"blocks.{s}.multipathway_fusion.conv_fast_to_slow", dim_out // 8, dim_out * 2 // 8, (7, 1, 1))
            _bn(f"blocks.{s}.multipathway_fusion.norm", dim_out * 2 // 8, sd)
        dim_in, dim_out = dim_out, dim_out * 2
    sd["blocks.6.proj.weight"] = torch.randn(num_classes, 2304) * 0.01
    sd["blocks.6.proj.bias"] = torch.zeros(num_classes)
    return sd


def test_mmaction_checkpoint_loads_strictly_with_channel_and_head_adaptation():
    sd = mmaction_state()
    model = create_model("slowfast_r50", num_classes=14, in_chans=1)
    report = load_slowfast_checkpoint(model, {"meta": {}, "state_dict": sd}, "mmaction")
    assert sorted(report["adapted_stems"]) == ["fast_path.conv1.conv.weight", "slow_path.conv1.conv.weight"]
    assert sorted(report["head_reinitialised"]) == ["head.fc_cls.bias", "head.fc_cls.weight"]
    own = model.state_dict()
    torch.testing.assert_close(own["slow_path.conv1.conv.weight"],
                               sd["backbone.slow_path.conv1.conv.weight"].sum(1, keepdim=True))
    torch.testing.assert_close(own["slow_path.layer3.2.conv2.bn.running_var"],
                               sd["backbone.slow_path.layer3.2.conv2.bn.running_var"])
    assert model(torch.randn(1, 1, 16, 40, 60)).shape == (1, 14)


def test_same_classes_keep_the_head():
    sd = mmaction_state(num_classes=14, in_chans=3)
    model = create_model("slowfast_r50", num_classes=14, in_chans=3)
    report = load_slowfast_checkpoint(model, {"state_dict": sd}, "mmaction")
    assert not report["head_reinitialised"] and not report["adapted_stems"]
    torch.testing.assert_close(model.state_dict()["head.fc_cls.weight"], sd["cls_head.fc_cls.weight"])


def test_pytorchvideo_checkpoint_loads_strictly():
    sd = pytorchvideo_state()
    model = create_model("slowfast_r50_ptv", num_classes=14, in_chans=1)
    report = load_slowfast_checkpoint(model, {"model_state": sd}, "pytorchvideo")
    assert len(report["adapted_stems"]) == 2
    own = model.state_dict()
    torch.testing.assert_close(own["slow_path.layer2_lateral.bn.weight"], sd["blocks.2.multipathway_fusion.norm.weight"])
    torch.testing.assert_close(own["fast_path.layer4.2.conv3.conv.weight"],
                               sd["blocks.4.multipathway_blocks.1.res_blocks.2.branch2.conv_c.weight"])
    assert model(torch.randn(1, 1, 16, 40, 60)).shape == (1, 14)


def test_wrong_geometry_and_leftover_keys_are_refused():
    with pytest.raises(ActlineError, match="does not have|does not fit"):
        load_slowfast_checkpoint(create_model("slowfast_r50", num_classes=14), {"model_state": pytorchvideo_state()},
                                 "pytorchvideo")
    sd = mmaction_state()
    sd["backbone.extra.weight"] = torch.zeros(1)
    with pytest.raises(ActlineError, match="extra"):
        load_slowfast_checkpoint(create_model("slowfast_r50", num_classes=14), {"state_dict": sd}, "mmaction")
    sd = mmaction_state()
    del sd["backbone.fast_path.layer2.1.conv2.conv.weight"]
    with pytest.raises(ActlineError, match="missing"):
        load_slowfast_checkpoint(create_model("slowfast_r50", num_classes=14), {"state_dict": sd}, "mmaction")


def test_mmengine_checkpoint_file_loads_without_mmengine(tmp_path, monkeypatch):
    """A file as MMAction2 saves it, with a HistoryBuffer in message_hub, loads with weights_only=True."""
    mod = types.ModuleType("mmengine.logging.history_buffer")

    class HistoryBuffer:
        def __init__(self):
            self._log_history = [1.0, 2.0]

    HistoryBuffer.__module__ = "mmengine.logging.history_buffer"
    HistoryBuffer.__qualname__ = "HistoryBuffer"
    mod.HistoryBuffer = HistoryBuffer
    for name in ("mmengine", "mmengine.logging", "mmengine.logging.history_buffer"):
        monkeypatch.setitem(sys.modules, name, mod if name.endswith("history_buffer") else types.ModuleType(name))
    path = tmp_path / "best_acc_top1_epoch_7.pth"
    torch.save({"meta": {"epoch": 7}, "state_dict": mmaction_state(),
                "message_hub": {"log_scalars": {"train/loss": HistoryBuffer()}}}, path)
    ckpt = load_foreign_checkpoint(path)
    model = create_model("slowfast_r50", num_classes=14, in_chans=1)
    load_slowfast_checkpoint(model, ckpt, "mmaction", str(path))


def test_arbitrary_pickled_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("should never run",))

    path = tmp_path / "evil.pth"
    with open(path, "wb") as fh:
        pickle.dump({"state_dict": Evil()}, fh)
    with pytest.raises(ActlineError, match="refusing to unpickle|not a readable"):
        load_foreign_checkpoint(path)
