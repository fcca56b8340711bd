"""``--backend`` for ``serve`` and ``stream``: a model directory runs its ONNX export when it has one (no torch
imported), ``onnx`` exports one first where there is none, ``torch`` insists on the weights."""

import json
import subprocess
import sys

import pytest

from actline.apps.model_backend import has_export, resolve
from actline.apps.onnx_export import export_model
from actline.cli import main
from actline.core.errors import ActlineError
from actline.modeldir.directory import verify
from tests.apps.test_export import model_dir  # noqa: F401  (the fixture: a small 40x60 thermal CNN)
from tests.apps.test_runtime_install import _gated, _recording, _run_without_torch

pytest.importorskip("onnxruntime")

SERVE = """
import json, sys
from fastapi.testclient import TestClient
from actline.apps.serve import ServeConfig, create_app
backend = None if sys.argv[2] == "default" else sys.argv[2]
with TestClient(create_app([sys.argv[1]], ServeConfig(backend=backend)), base_url="http://127.0.0.1") as c:
    info = c.get("/v1/model").json()["classifier"]
print(json.dumps([info["backend"], sorted({m.split(".")[0] for m in sys.modules} & {"torch", "sklearn"})]))
"""


def _serve(model, backend: str) -> list:
    run = subprocess.run([sys.executable, "-c", SERVE, str(model), backend], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.splitlines()[-1])


def test_a_directory_with_its_export_serves_without_torch_and_torch_on_request(model_dir, tmp_path):  # noqa: F811
    gated = _gated(model_dir)  # a room gate: trees, rooms and a fallback CNN beside the weights
    assert not has_export(gated) and resolve(gated, None) == (gated, "torch")
    assert _serve(gated, "default")[0] == "TorchClassifier"
    export_model(gated)
    assert has_export(gated)
    backend, imported = _serve(gated, "default")
    assert backend == "OnnxClassifier" and imported == []  # neither torch nor scikit-learn in the process
    assert _serve(gated, "torch")[0] == "TorchClassifier"
    (gated / "fallback.onnx").unlink()  # an incomplete export is not used
    assert not has_export(gated) and resolve(gated, None) == (gated, "torch")


def test_backend_onnx_exports_first_where_there_is_no_export(model_dir, tmp_path, capsys):  # noqa: F811
    assert not (model_dir / "model.onnx").exists()
    rec = _recording(tmp_path / "rec.h5")
    main(["stream", str(model_dir), "--replay", str(rec), "--speed", "0", "--every", "8", "--backend", "onnx"])
    assert "48 frames" in capsys.readouterr().out
    assert verify(model_dir, "model.onnx").is_file()  # exported into the directory, checksummed with it
    assert resolve(model_dir, None) == (model_dir, "onnx")
    with pytest.raises(ActlineError, match="unknown backend"):
        resolve(model_dir, "tflite")
    with pytest.raises(ActlineError, match="runs on ONNX Runtime"):
        resolve(model_dir / "model.onnx", "torch")


def test_backend_onnx_without_torch_and_without_an_export_says_how_in_one_line(model_dir, tmp_path):  # noqa: F811
    rec = _recording(tmp_path / "rec.h5")
    run = _run_without_torch(tmp_path, "stream", str(model_dir), "--replay", str(rec), "--speed", "0",
                             "--backend", "onnx")
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 2 and len(lines) == 1, run.stderr
    assert "needs torch" in lines[0] and f"actline export {model_dir}" in lines[0]
    assert not (model_dir / "model.onnx").exists()


def test_the_command_line_passes_the_backend(model_dir, monkeypatch):  # noqa: F811
    import actline.apps.serve as serve_pkg

    seen = []
    monkeypatch.setattr(serve_pkg, "serve", lambda models, cfg: seen.append(cfg.backend))
    main(["serve", str(model_dir), "--backend", "onnx"])
    assert seen == ["onnx"]
