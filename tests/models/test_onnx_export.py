"""The thermal models and SlowFast export to ONNX and agree with PyTorch under ONNX Runtime."""

import numpy as np
import pytest
import torch

from actline.models import create_model

ort = pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("name,shape", [("thermal_r2plus1d", (2, 1, 16, 40, 60)),
                                        ("thermal_frame_tcn", (2, 1, 16, 16, 16)),
                                        ("slowfast_r50", (1, 1, 16, 40, 60))])
def test_export_parity(name, shape, tmp_path):
    torch.manual_seed(0)
    model = create_model(name, num_classes=5).eval()
    x = torch.randn(*shape) * 2 + 22
    path = tmp_path / f"{name}.onnx"
    torch.onnx.export(model, (x,), str(path), input_names=["frames"], output_names=["logits"],
                      dynamic_axes={"frames": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17, dynamo=False)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        want = torch.softmax(model(x), 1).numpy()
    got = sess.run(None, {"frames": x.numpy()})[0]
    got = np.exp(got - got.max(1, keepdims=True))
    got /= got.sum(1, keepdims=True)
    assert np.abs(got - want).max() < 1e-4
