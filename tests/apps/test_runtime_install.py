"""``pip install 'actline[runtime]'``: exported ONNX models load and run with no torch, torchvision or scikit-learn.

The fast tests run the command line, ``actline.load`` and the HTTP service (``[serve]``) in a subprocess
where importing any training dependency fails (a meta-path finder that refuses them, as an absent
package does); the slow one installs the repository with ``[runtime]`` into a fresh venv from the package index,
then ``[runtime,serve,mqtt]`` (an edge gateway's install), asks a real ``actline serve`` for a prediction
from the exported file and from an exported model directory with a room gate, and replays a recording
through ``actline stream`` from that directory.
"""

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import numpy as np
import pytest

from actline.apps.onnx_export import export_model
from actline.data.thermal_h5 import write_recording_h5
from tests.apps.test_export import CLASSES, model_dir  # noqa: F401  (model_dir: the fixture, a small thermal CNN)

pytest.importorskip("onnxruntime")
REPO = Path(__file__).resolve().parents[2]

# every module the `train` extra brings (pyproject.toml); the runtime path must import none of them
TRAIN_ONLY = ("torch", "torchvision", "sklearn", "skl2onnx", "onnx", "matplotlib", "yaml")
BLOCKER = f"""
import importlib.abc, sys

class _NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {TRAIN_ONLY!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, _NotInstalled())
"""


def _recording(path: Path) -> Path:
    rng = np.random.default_rng(0)
    frames = rng.normal(21, 0.2, (48, 40, 60)).astype(np.float32)
    return write_recording_h5(path, frames, (np.arange(48) * 100 + 1_700_000_000_000).astype(np.int64), "S1")


def _timeline_with_export(tmp_path: Path) -> tuple[Path, Path]:
    """A small RGB timeline model with its ONNX export in MODEL/onnx, and a folder holding one video."""
    from actline.data.video import write_video
    from tests.infer.test_timeline import _rgb_model

    _rgb_model(tmp_path / "tl", (0.5, 0.4, 0.3), (0.2, 0.25, 0.3))
    export_model(tmp_path / "tl")
    rng = np.random.default_rng(1)
    (tmp_path / "videos").mkdir()
    write_video(tmp_path / "videos" / "v.mp4", [rng.integers(0, 255, (40, 56, 3), dtype=np.uint8) for _ in range(24)],
                fps=8)
    return tmp_path / "tl", tmp_path / "videos"


def _run_without_torch(tmp_path: Path, *args: str, code: str | None = None) -> subprocess.CompletedProcess:
    """``actline ARGS`` (or ``code``) in a fresh interpreter where the training dependencies cannot be imported."""
    (tmp_path / "_not_installed.py").write_text(BLOCKER)
    boot = f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import _not_installed\n"
    boot += code or "from actline.cli import main; main()"
    return subprocess.run([sys.executable, "-c", boot, *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_the_runtime_path_imports_no_training_dependency(model_dir, tmp_path):  # noqa: F811
    export_model(model_dir)  # beside the PyTorch weights: a runtime-only install picks model.onnx
    rec = _recording(tmp_path / "rec.h5")
    blocked = _run_without_torch(tmp_path, code="import torch")
    assert blocked.returncode != 0 and "No module named 'torch'" in blocked.stderr  # the blocker works

    version = _run_without_torch(tmp_path, "--version")
    assert version.returncode == 0 and version.stdout.startswith("actline "), version.stderr
    for model in (model_dir, model_dir / "model.onnx"):
        pred = _run_without_torch(tmp_path, "predict", str(model), str(rec), "--json", "--stride", "8")
        assert pred.returncode == 0, pred.stderr
        rows = [json.loads(line) for line in pred.stdout.splitlines()]
        assert len(rows) >= 3 and all(r["label"] in CLASSES for r in rows)
    stream = _run_without_torch(tmp_path, "stream", str(model_dir), "--replay", str(rec), "--speed", "0",
                                "--every", "4", "--events", str(tmp_path / "ev.jsonl"), "--record", str(tmp_path / "kept"))
    assert stream.returncode == 0 and "48 frames" in stream.stdout, stream.stderr
    assert "recorded 48 frames in 1 file under" in stream.stdout  # --record needs no torch either

    load = _run_without_torch(tmp_path, code=f"import actline; r = actline.load({str(model_dir)!r}); "
                                             "print(type(r.classifier).__name__, r.classes)")
    assert load.returncode == 0 and load.stdout.split()[0] == "OnnxClassifier", load.stderr


def test_an_onnx_timeline_runs_on_a_folder_without_torch(tmp_path):
    model, videos = _timeline_with_export(tmp_path)
    for path in (model, model / "onnx"):  # the model directory falls back to its export when torch is absent
        out = tmp_path / f"out-{path.name}"
        run = _run_without_torch(tmp_path, "timeline", str(path), str(videos), "--out", str(out), "--quiet")
        assert run.returncode == 0, run.stderr
        segments = json.loads((out / "v.json").read_text())["segments"]
        assert segments and {s["label"] for s in segments} <= {"a", "b"}
    load = _run_without_torch(tmp_path, code=f"import actline; p = actline.load({str(model)!r}); "
                                             "print(type(p.backend).__name__)")
    assert load.returncode == 0 and load.stdout.strip() == "OnnxTimelineBackend", load.stderr


# `actline serve` builds its application with create_app (apps/serve/http_app.py:serve); the client is the
# serve tests' own: loopback base URL (the Host allow-list) and a bearer token (tests/apps/test_serve.py)
SERVE_CODE = """
import io, json, sys, time
from pathlib import Path
import numpy as np
import actline
from fastapi.testclient import TestClient
from actline.apps.serve import ServeConfig, create_app
from actline.data.recordings.thermal_h5_file import read_recording_h5

model, timeline, rec, video = sys.argv[1:5]
token = "test-token-0123456789abcdef"
auth = {"Authorization": f"Bearer {token}"}
buf = io.BytesIO()
window = read_recording_h5(rec).frames[:16]  # one window of the recording, [16, 40, 60] degC
np.save(buf, window)
npy = {"content-type": "application/octet-stream"}
out = {"library": actline.load(model).predict(window).to_dict()}
with TestClient(create_app([model, timeline], ServeConfig(token=token)),
                base_url="http://127.0.0.1") as c:
    upload = {"file": ("v.mp4", Path(video).read_bytes(), "video/mp4")}
    out["anonymous"] = [c.post("/v1/predict", content=buf.getvalue(), headers=npy).status_code,
                        c.post("/v1/timeline", files=upload).status_code]
    ok = c.post("/v1/predict", content=buf.getvalue(), headers={**npy, **auth})
    out["predict"] = [ok.status_code, ok.json()]
    out["model"] = c.get("/v1/model", headers=auth).json()
    job = c.post("/v1/timeline", files=upload, headers=auth)
    out["submit"] = job.status_code
    end = time.monotonic() + 60
    while (status := c.get(job.json()["status_url"], headers=auth).json())["status"] not in ("done", "failed"):
        assert time.monotonic() < end, status
        time.sleep(0.05)
    out["job"] = status
print(json.dumps(out))
"""


def test_the_service_serves_exported_models_without_torch(model_dir, tmp_path):  # noqa: F811
    export_model(model_dir)
    rec = _recording(tmp_path / "rec.h5")
    timeline, videos = _timeline_with_export(tmp_path)
    # the exports themselves, then the model directories (each falls back to its export without torch)
    for models in ((model_dir / "model.onnx", timeline / "onnx"), (model_dir, timeline)):
        run = _run_without_torch(tmp_path, *map(str, (*models, rec, videos / "v.mp4")), code=SERVE_CODE)
        assert run.returncode == 0, run.stderr
        out = json.loads(run.stdout.splitlines()[-1])
        assert out["anonymous"] == [401, 401]
        status, pred = out["predict"]
        assert status == 200 and pred["label"] in CLASSES and pred == out["library"], (pred, out["library"])
        assert out["model"]["classifier"]["backend"] == "OnnxClassifier"
        assert out["submit"] == 202 and out["job"]["status"] == "done", out["job"]
        segments = out["job"]["timeline"]
        assert {s["label"] for s in segments} <= {"a", "b"} and segments[-1]["end_s"] == 3.0  # 24 frames at 8 fps


def _gated(cnn_dir: Path) -> Path:
    """``cnn_dir`` made a 40x60 CNN on raw temperatures with a room gate whose one training room is unlike the
    recording below, so the trees and the fallback CNN are consulted (fingerprints: a model made before 0.6)."""
    from actline.data.rooms import room_fingerprint
    from tests.support import gated_model_dir

    room = room_fingerprint(np.tile(np.linspace(15, 30, 60, dtype=np.float32), (40, 1))[None])
    return gated_model_dir(cnn_dir, cnn_dir.parent / "gated", room, threshold=0.3, measure="fingerprint")


def test_a_model_with_a_room_gate_runs_without_torch(model_dir, tmp_path):  # noqa: F811
    gated = _gated(model_dir)
    out = tmp_path / "edge" / "fall.onnx"
    export_model(gated, out)
    rec = _recording(tmp_path / "rec.h5")
    code = (f"import actline, numpy as np; from actline.data.thermal_h5 import read_recording_h5; "
            f"r = actline.load({str(out)!r}); rec = read_recording_h5({str(rec)!r}); "
            f"c = r.classifier; calls = []; t, f = c.trees, c.fallback; "
            f"c.trees = type('S', (), {{'probs': lambda s, w, b=None: calls.append(len(w)) or t.probs(w)}})(); "
            f"c.fallback = type('S', (), {{'probs': lambda s, w, b=None: calls.append(-len(w)) or f.probs(w)}})(); "
            f"p = r.predict(rec.frames[:32]); import json; "
            f"print(json.dumps([r.gated, p.label, calls, r.room_similarity(rec.empty_room()), type(f).__name__]))")
    run = _run_without_torch(tmp_path, code=code)
    assert run.returncode == 0, run.stderr
    gated_flag, label, calls, sim, fallback = json.loads(run.stdout.splitlines()[-1])
    assert gated_flag and label in CLASSES and sorted(calls) == [-1, 1] and sim < 0.3 and fallback == "OnnxClassifier"
    pred = _run_without_torch(tmp_path, "predict", str(out), str(rec), "--json", "--stride", "8")
    assert pred.returncode == 0 and "room NEW" in pred.stderr and "actline adapt" in pred.stderr, pred.stderr


def test_commands_that_need_torch_say_which_extra_in_one_line(model_dir, tmp_path):  # noqa: F811
    shutil.copytree(model_dir, tmp_path / "weights-only")  # PyTorch weights, no ONNX export beside them
    for args in (("export", str(model_dir)), ("predict", str(tmp_path / "weights-only"), "x.h5")):
        run = _run_without_torch(tmp_path, *args)
        lines = run.stderr.strip().splitlines()
        assert run.returncode == 2 and len(lines) == 1, run.stderr
        assert "pip install 'actline[train]'" in lines[0]


@pytest.mark.slow
def test_a_fresh_venv_with_the_runtime_extra_has_no_torch_predicts_serves_and_streams(model_dir, tmp_path):  # noqa: F811
    export_model(model_dir)
    rec = _recording(tmp_path / "rec.h5")
    src = tmp_path / "src"  # a copy: an in-tree build would leave actline.egg-info in the checkout
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(".git", ".venv", "runs", "site", "tests", "benchmarks",
                                                             "__pycache__", "*.egg-info", "test-artifacts"))
    venv.create(tmp_path / "venv", with_pip=True)
    bin_dir = tmp_path / "venv" / "bin"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(OMP_NUM_THREADS="1", PIP_RETRIES="1")
    pip = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "--timeout", "30", f"{src}[runtime]"],
                         capture_output=True, text=True, env=env, timeout=1200)
    if pip.returncode != 0:
        tail = (pip.stdout + pip.stderr).strip().splitlines()[-3:]
        if any(s in " ".join(tail) for s in ("NewConnectionError", "Temporary failure in name resolution",
                                             "Network is unreachable", "Max retries exceeded", "ConnectTimeout")):
            pytest.skip(f"the package index is unreachable: {tail[-1]}")
        pytest.fail("pip install '.[runtime]' failed:\n" + "\n".join(tail))
    listed = subprocess.run([str(bin_dir / "python"), "-m", "pip", "list", "--format", "json"],
                            capture_output=True, text=True, env=env, check=True)
    names = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert {"actline", "onnxruntime", "h5py", "av", "numpy"} <= names
    assert not names & {"torch", "torchvision", "scikit-learn", "matplotlib"}, sorted(names)

    version = subprocess.run([str(bin_dir / "actline"), "--version"], capture_output=True, text=True, env=env)
    assert version.returncode == 0 and version.stdout.startswith("actline "), version.stderr
    pred = subprocess.run([str(bin_dir / "actline"), "predict", str(model_dir), str(rec), "--json", "--stride", "8"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert pred.returncode == 0, pred.stderr
    assert all(json.loads(line)["label"] in CLASSES for line in pred.stdout.splitlines())

    # then what an edge gateway installs, `actline[runtime,serve,mqtt]`: `actline serve` and `actline stream --replay`
    # run the exported model directory (a room gate's parts exported beside it), still with neither torch nor
    # scikit-learn installed
    gateway = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "--timeout", "30",
                              f"{src}[runtime,serve,mqtt]"], capture_output=True, text=True, env=env, timeout=1200)
    assert gateway.returncode == 0, (gateway.stdout + gateway.stderr).strip().splitlines()[-3:]
    listed = subprocess.run([str(bin_dir / "python"), "-m", "pip", "list", "--format", "json"],
                            capture_output=True, text=True, env=env, check=True)
    names = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert {"fastapi", "uvicorn", "paho-mqtt"} <= names and not names & {"torch", "scikit-learn"}, sorted(names)
    gated = _gated(model_dir)
    export_model(gated)  # model.onnx, fallback.onnx; trees.onnx and rooms.safetensors were there
    _serve_once(bin_dir / "actline", model_dir / "model.onnx", rec, env, tmp_path / "serve.log")
    _serve_once(bin_dir / "actline", gated, rec, env, tmp_path / "serve-dir.log")
    stream = subprocess.run([str(bin_dir / "actline"), "stream", str(gated), "--replay", str(rec), "--speed", "0",
                             "--every", "8", "--events", str(tmp_path / "events.jsonl")],
                            capture_output=True, text=True, env=env, timeout=300)
    assert stream.returncode == 0 and "48 frames" in stream.stdout, stream.stderr


def _serve_once(actline_bin: Path, model: Path, rec: Path, env: dict, log: Path) -> None:
    """Start ``actline serve MODEL`` on a free loopback port, ask it for one prediction with the token, stop it."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    token = "fresh-venv-token-0123456789"
    # the service's log goes to a file: a pipe nobody reads could fill and stall it
    with open(log, "w") as out:
        proc = subprocess.Popen([str(actline_bin), "serve", str(model), "--port", str(port)],
                                env={**env, "ACTLINE_TOKEN": token}, stdout=out, stderr=subprocess.STDOUT)
        try:
            _predict_over_http(f"http://127.0.0.1:{port}", token, rec, proc, log)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def _predict_over_http(url: str, token: str, rec: Path, proc: subprocess.Popen, log: Path) -> None:
    import io
    import time
    import urllib.error
    import urllib.request

    from actline.data.recordings.thermal_h5_file import read_recording_h5

    end = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as r:
                assert r.status == 200
                break
        except (urllib.error.URLError, ConnectionError):
            assert proc.poll() is None and time.monotonic() < end, log.read_text()[-2000:]
            time.sleep(0.2)
    buf = io.BytesIO()
    np.save(buf, read_recording_h5(rec).frames[:16])
    req = urllib.request.Request(url + "/v1/predict", data=buf.getvalue(), method="POST",
                                 headers={"Content-Type": "application/octet-stream",
                                          "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 200 and json.loads(r.read())["label"] in CLASSES
