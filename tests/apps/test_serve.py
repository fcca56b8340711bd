"""The HTTP service, in process and as a real uvicorn process on loopback, including bad requests."""

import io
import json
import socket
import subprocess
import sys
import time

import httpx
import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from actline.apps.serve import ServeConfig, create_app
from actline.modeldir.directory import save_model_dir
from actline.models import create_model

CLASSES = ["idle", "walk", "fall"]


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    torch.manual_seed(0)
    model = create_model("thermal_r2plus1d", num_classes=3).eval()
    cfg = {"pipeline": "clip-classifier", "arch": model.arch, "classes": CLASSES,
           "window": {"length": 16, "mode": "index", "fps": 10.0}, "preprocessing": {"frame_shape": [16, 16]},
           "metrics": {"top1": 61.0}}
    return save_model_dir(tmp_path_factory.mktemp("cls") / "model", model, cfg)


@pytest.fixture(scope="module")
def client(classifier, timeline_model):
    app = create_app([classifier, timeline_model], ServeConfig(max_body_mb=1, timeout_s=20, queue_size=1))
    with TestClient(app) as c:
        yield c


def _npy(arr) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def test_predict_json_and_npy_and_model_info(client):
    frames = np.random.default_rng(0).normal(21, 0.3, (20, 16, 16)).round(2)
    a = client.post("/v1/predict", json={"frames": frames.tolist()})
    b = client.post("/v1/predict", content=_npy(frames.astype(np.float32)),
                    headers={"content-type": "application/octet-stream"})
    assert a.status_code == b.status_code == 200
    assert a.json()["label"] in CLASSES and a.json()["label"] == b.json()["label"]
    assert abs(a.json()["confidence"] - b.json()["confidence"]) < 1e-3
    info = client.get("/v1/model").json()
    assert info["classifier"]["classes"] == CLASSES and info["timeline"]["classes"]
    assert client.get("/healthz").json() == {"status": "ok", "classifier": True, "timeline": True}
    assert "/v1/predict" in client.get("/openapi.json").json()["paths"]


@pytest.mark.parametrize("body,ctype,status,words", [
    (b"{not json", "application/json", 400, "cannot read the window"),
    (json.dumps({"x": 1}).encode(), "application/json", 400, "expected"),
    (json.dumps({"frames": [[1, 2], [3, 4]]}).encode(), "application/json", 400, "expected [T, H, W]"),
    (json.dumps({"frames": np.zeros((4, 16, 16)).tolist()}).encode(), "application/json", 400, "too few frames"),
    (json.dumps({"frames": np.zeros((20, 8, 8)).tolist()}).encode(), "application/json", 400, "16x16"),
    (b"hello", "text/plain", 415, "application/json"),
    (b"\x93NUMPY garbage", "application/octet-stream", 400, "cannot read"),
    (b"x" * (2 * 1024 * 1024), "application/octet-stream", 413, "exceeds the limit"),
])
def test_bad_requests_get_clear_4xx_and_the_service_stays_healthy(client, body, ctype, status, words):
    r = client.post("/v1/predict", content=body, headers={"content-type": ctype})
    assert r.status_code == status and words in r.json()["detail"]
    assert client.get("/healthz").status_code == 200


def test_pickled_npy_is_refused(client):
    arr = np.array([{"evil": 1}], dtype=object)
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    r = client.post("/v1/predict", content=buf.getvalue(), headers={"content-type": "application/octet-stream"})
    assert r.status_code == 400 and "pickle" in r.json()["detail"].lower()


def test_timeline_jobs_queue_limit_and_cleanup(client, rgb):
    video = (rgb / "long" / "video_00.mp4").read_bytes()
    r = client.post("/v1/timeline", files={"file": ("../../etc/passwd.mp4", video, "video/mp4")})
    assert r.status_code == 202
    job = r.json()["job_id"]
    busy = client.post("/v1/timeline", files={"file": ("v.mp4", video, "video/mp4")})
    assert busy.status_code == 429
    for _ in range(200):
        status = client.get(f"/v1/jobs/{job}").json()
        if status["status"] in ("done", "failed"):
            break
        time.sleep(0.1)
    assert status["status"] == "done", status
    assert status["timeline"][0]["start_s"] == 0 and status["timeline"][-1]["end_s"] > 45
    assert not list(client.app.state.upload_dir.iterdir())  # the upload was removed
    assert client.post("/v1/timeline", files={"file": ("x.exe", b"MZ", "application/octet-stream")}).status_code == 415
    assert client.post("/v1/timeline", content=b"raw").status_code == 415
    assert client.get("/v1/jobs/nope").status_code == 404
    bad = client.post("/v1/timeline", files={"file": ("broken.mp4", b"\x00" * 100, "video/mp4")}).json()["job_id"]
    for _ in range(100):
        status = client.get(f"/v1/jobs/{bad}").json()
        if status["status"] != "queued" and status["status"] != "running":
            break
        time.sleep(0.05)
    assert status["status"] == "failed" and "upload" in status["error"] and "actline-serve" not in status["error"]


def test_metrics_in_prometheus_text(client):
    client.post("/v1/predict", json={"frames": np.full((16, 16, 16), 21.0).tolist()})
    text = client.get("/metrics").text
    assert 'actline_requests_total{endpoint="/v1/predict",status="200"}' in text
    assert "actline_predictions_total{label=" in text and "actline_request_seconds_bucket" in text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_real_uvicorn_process_on_loopback(classifier):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "actline.cli", "serve", str(classifier), "--port", str(port),
                             "--max-body-mb", "0.5"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail("service did not come up: " + proc.stdout.read1().decode(errors="replace"))
        ok = httpx.post(f"{base}/v1/predict", json={"frames": np.full((16, 16, 16), 21.0).tolist()}, timeout=30)
        assert ok.status_code == 200 and ok.json()["label"] in CLASSES
        big = httpx.post(f"{base}/v1/predict", content=b"0" * (1024 * 1024),
                         headers={"content-type": "application/octet-stream"}, timeout=30)
        assert big.status_code == 413
        bad = httpx.post(f"{base}/v1/predict", content=b"[[[", headers={"content-type": "application/json"}, timeout=30)
        assert bad.status_code == 400
        assert httpx.get(f"{base}/v1/timeline", timeout=5).status_code == 405
        assert httpx.get(f"{base}/healthz", timeout=5).json()["status"] == "ok"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_slow_predictions_time_out_with_504(classifier, monkeypatch):
    from actline.infer import Recognizer

    real = Recognizer.predict

    def slow(self, *a, **kw):
        time.sleep(1.0)
        return real(self, *a, **kw)

    monkeypatch.setattr(Recognizer, "predict", slow)
    app = create_app([classifier], ServeConfig(timeout_s=0.1))
    with TestClient(app) as c:
        r = c.post("/v1/predict", json={"frames": np.full((16, 16, 16), 21.0).tolist()})
        assert r.status_code == 504 and "longer than 0.1 s" in r.json()["detail"]
        assert c.get("/healthz").status_code == 200
