"""The HTTP service, in process and as a real uvicorn process on loopback, including bad requests."""

import io
import json
import os
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
from actline.core.errors import ActlineError
from actline.modeldir.directory import save_model_dir
from actline.models import create_model

CLASSES = ["idle", "walk", "fall"]
TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LOCAL = "http://127.0.0.1"


def _classifier(root, mode="index"):
    torch.manual_seed(0)
    model = create_model("thermal_r2plus1d", num_classes=3).eval()
    cfg = {"pipeline": "clip-classifier", "arch": model.arch, "classes": CLASSES,
           "window": {"length": 16, "mode": mode, "fps": 10.0}, "preprocessing": {"frame_shape": [16, 16]},
           "metrics": {"top1": 61.0}}
    return save_model_dir(root / "model", model, cfg)


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    return _classifier(tmp_path_factory.mktemp("cls"))


@pytest.fixture(scope="module")
def time_classifier(tmp_path_factory):
    return _classifier(tmp_path_factory.mktemp("tcls"), mode="time")


@pytest.fixture(scope="module")
def client(classifier, timeline_model):
    app = create_app([classifier, timeline_model], ServeConfig(max_body_mb=1, timeout_s=20, queue_size=1, token=TOKEN))
    with TestClient(app, base_url=LOCAL, headers=AUTH) as c:
        yield c


def _npy(arr) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def _npy_header(header: str, version: int = 1) -> bytes:
    """A .npy file's magic and header, as a hostile client may write it."""
    h = header.encode("latin-1")
    return b"\x93NUMPY" + bytes([version, 0]) + len(h).to_bytes(2 if version == 1 else 4, "little") + h


def _wait_job(c, job_id, timeout=60.0):
    end = time.monotonic() + timeout
    while True:
        status = c.get(f"/v1/jobs/{job_id}").json()
        if status["status"] in ("done", "failed") or time.monotonic() > end:
            return status
        time.sleep(0.05)


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
    (json.dumps({"frames": [[["a"] * 16] * 16] * 16}).encode(), "application/json", 400, "numbers only"),
    (json.dumps({"frames": [[[1, 2]], [[1]]]}).encode(), "application/json", 400, "ragged"),
    (json.dumps({"frames": np.zeros((16, 16, 16)).tolist(), "k": 3}).encode(), "application/json", 400, "unknown field"),
    (b"hello", "text/plain", 415, "application/json"),
    (b"\x93NUMPY garbage", "application/octet-stream", 400, "cannot read"),
    (_npy(np.zeros((16, 16, 16), np.float32))[:200], "application/octet-stream", 400, "declares"),
    # a header cut short and padded with zeros: numpy's parser raises tokenize.TokenError (found by fuzzing)
    (_npy(np.zeros((1, 4, 10), np.float32))[:11] + bytes(200), "application/octet-stream", 400, "not a .npy"),
    # headers found by fuzzing that numpy's own parser does not turn into a ValueError:
    (_npy_header("-" * 5000 + "1\n"), "application/octet-stream", 400, "nested too deeply"),  # RecursionError
    (_npy_header("{'descr': '<f4', 'fortran_order': False, 'shape': (-2, -2)}\n") + bytes(16),
     "application/octet-stream", 400, "impossible shape"),  # (-2) x (-2) x 4 bytes matches the data
    (_npy_header("{'descr': '<f4', 'fortran_order': False, 'shape': (" + "9" * 4000 + ", 9)}\n") + bytes(16),
     "application/octet-stream", 400, "impossible shape"),  # too many digits to print
    (_npy_header("{'descr': '<f4', 'fortran_order': False, 'shape': (16, 16, 16)}" + " " * 20000 + "\n", 2)
     + bytes(16 * 16 * 16 * 4), "application/octet-stream", 400, "not a .npy"),  # numpy's message spans lines
    (_npy(np.zeros((16, 16, 16), np.complex64)), "application/octet-stream", 400, "must hold numbers"),
    (b"x" * (2 * 1024 * 1024), "application/octet-stream", 413, "exceeds the limit"),
])
def test_bad_requests_get_clear_4xx_and_the_service_stays_healthy(client, body, ctype, status, words):
    r = client.post("/v1/predict", content=body, headers={"content-type": ctype})
    assert r.status_code == status and words in r.json()["detail"] and "\n" not in r.json()["detail"]
    assert client.get("/healthz").status_code == 200


def test_pickled_npy_is_refused(client):
    arr = np.array([{"evil": 1}], dtype=object)
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    r = client.post("/v1/predict", content=buf.getvalue(), headers={"content-type": "application/octet-stream"})
    assert r.status_code == 400 and "pickle" in r.json()["detail"].lower()


@pytest.mark.parametrize("timestamps", [["a"] * 20, [[1.0]] * 20, "soon", [1.0] * 3, [float("nan")] * 20,
                                        list(range(20))[::-1], [10**400] * 20, {"t": 1}, [True] * 20])
def test_time_window_models_get_400_for_bad_timestamps(time_classifier, timestamps):
    with TestClient(create_app([time_classifier]), base_url=LOCAL) as c:
        body = json.dumps({"frames": np.full((20, 16, 16), 21.0).tolist(), "timestamps": timestamps})
        r = c.post("/v1/predict", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 400, r.text
        assert "timestamps" in r.json()["detail"] and "\n" not in r.json()["detail"]
        ok = c.post("/v1/predict", json={"frames": np.full((20, 16, 16), 21.0).tolist(),
                                         "timestamps": (np.arange(20) * 0.1).tolist()})
        assert ok.status_code == 200


def test_timeline_jobs_queue_limit_and_cleanup(client, rgb):
    video = (rgb / "long" / "video_00.mp4").read_bytes()
    r = client.post("/v1/timeline", files={"file": ("../../etc/passwd.mp4", video, "video/mp4")})
    assert r.status_code == 202
    job = r.json()["job_id"]
    busy = client.post("/v1/timeline", files={"file": ("v.mp4", video, "video/mp4")})
    assert busy.status_code == 429 and busy.headers["retry-after"]
    status = _wait_job(client, job)
    assert status["status"] == "done", status
    assert status["timeline"][0]["start_s"] == 0 and status["timeline"][-1]["end_s"] > 45
    assert not list(client.app.state.service.jobs.root.iterdir())  # the upload was removed
    assert client.post("/v1/timeline", files={"file": ("x.exe", b"MZ", "application/octet-stream")}).status_code == 415
    assert client.post("/v1/timeline", content=b"raw").status_code == 415
    assert client.get("/v1/jobs/nope").status_code == 404
    bad = client.post("/v1/timeline", files={"file": ("broken.mp4", b"\x00" * 100, "video/mp4")}).json()["job_id"]
    status = _wait_job(client, bad)
    assert status["status"] == "failed" and "upload" in status["error"] and "actline-jobs" not in status["error"]


def test_metrics_in_prometheus_text(client):
    client.post("/v1/predict", json={"frames": np.full((16, 16, 16), 21.0).tolist()})
    text = client.get("/metrics").text
    assert 'actline_requests_total{endpoint="/v1/predict",status="200"}' in text
    assert "actline_predictions_total{label=" in text and "actline_request_seconds_bucket" in text
    assert "actline_jobs_active 0.0" in text


def test_slow_predictions_time_out_with_504_and_the_pool_refuses_with_503(classifier, monkeypatch):
    """A 504 leaves its prediction running: it keeps its place in the pool, so more work is refused (503)
    until it ends, instead of piling up without bound."""
    from actline.infer import Recognizer

    real = Recognizer.predict

    def slow(self, *a, **kw):
        time.sleep(1.0)
        return real(self, *a, **kw)

    monkeypatch.setattr(Recognizer, "predict", slow)
    app = create_app([classifier], ServeConfig(timeout_s=0.1, predict_workers=1, predict_backlog=0))
    window = {"frames": np.full((16, 16, 16), 21.0).tolist()}
    with TestClient(app, base_url=LOCAL) as c:
        r = c.post("/v1/predict", json=window)
        assert r.status_code == 504 and "longer than 0.1 s" in r.json()["detail"]
        busy = c.post("/v1/predict", json=window)
        assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
        assert c.get("/healthz").status_code == 200
        time.sleep(1.2)  # the timed-out prediction ends and frees its place
        monkeypatch.setattr(Recognizer, "predict", real)
        assert c.post("/v1/predict", json=window).status_code == 200


def test_predict_bodies_have_their_own_smaller_limit(classifier, timeline_model):
    """A window is at most a few MB; JSON is parsed on the event loop, so /v1/predict has its own cap."""
    app = create_app([classifier, timeline_model], ServeConfig(max_body_mb=4, max_window_mb=0.25))
    with TestClient(app, base_url=LOCAL) as c:
        big = json.dumps({"frames": np.full((96, 16, 16), 21.123456789).tolist()}).encode()  # ~0.35 MB
        r = c.post("/v1/predict", content=big, headers={"content-type": "application/json"})
        assert r.status_code == 413 and "limit of 262144 bytes" in r.json()["detail"]
        up = c.post("/v1/timeline", files={"file": ("v.mp4", bytes(len(big)), "video/mp4")},
                    headers={"Authorization": "Bearer local"})
        assert up.status_code == 202  # uploads keep --max-body-mb
        _wait_job(c, up.json()["job_id"])
    with pytest.raises(ActlineError, match="max_window_mb must be positive"):
        ServeConfig(max_window_mb=0).validate()


def test_the_command_line_passes_every_setting(classifier, monkeypatch):
    import actline.apps.serve as serve_pkg
    from actline.cli import main

    seen = []
    monkeypatch.setattr(serve_pkg, "serve", lambda models, cfg: seen.append((models, cfg)))
    monkeypatch.setenv("ACTLINE_TOKEN", TOKEN)
    main(["serve", str(classifier), "--host", "192.0.2.1", "--port", "9001", "--allowed-host", "a.example",
          "--allowed-host", "b.example", "--public-metrics", "--max-body-mb", "3", "--max-window-mb", "2",
          "--timeout", "4", "--queue", "5", "--job-timeout", "6", "--device", "cpu", "--threads", "2"])
    (models, cfg), = seen
    assert models == [classifier] and cfg == ServeConfig(
        host="192.0.2.1", port=9001, token=TOKEN, allowed_hosts=("a.example", "b.example"), public_metrics=True,
        max_body_mb=3, max_window_mb=2, timeout_s=4, queue_size=5, job_timeout_s=6, device="cpu", threads=2)
    main(["serve", str(classifier)])
    assert seen[-1][1].device == "auto" and seen[-1][1].threads == 0  # a GPU when there is one


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _multipart_chunks(name: str, size: int, chunk: int = 64 * 1024, pulled: list | None = None):
    """A multipart body as a generator (so httpx sends it chunked, without a Content-Length)."""
    boundary = "actlinetestboundary"
    yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
           "Content-Type: application/octet-stream\r\n\r\n").encode()
    for _ in range(size // chunk):
        if pulled is not None:
            pulled.append(1)
        yield b"\x00" * chunk
    yield f"\r\n--{boundary}--\r\n".encode()


def _vanishing_upload():
    yield from _multipart_chunks("v.mp4", 256 * 1024)
    raise ConnectionAbortedError("the client went away")


MULTIPART = {"content-type": "multipart/form-data; boundary=actlinetestboundary"}


def test_real_uvicorn_process_on_loopback(classifier, timeline_model):
    port = _free_port()
    env = {**os.environ, "ACTLINE_TOKEN": TOKEN}
    proc = subprocess.Popen([sys.executable, "-m", "actline.cli", "serve", str(classifier), str(timeline_model),
                             "--port", str(port), "--max-body-mb", "0.5", "--queue", "1"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail("service did not come up: " + proc.stdout.read1().decode(errors="replace"))
        window = {"frames": np.full((16, 16, 16), 21.0).tolist()}
        assert httpx.post(f"{base}/v1/predict", json=window, timeout=30).status_code == 401
        assert httpx.get(f"{base}/metrics", timeout=5).status_code == 401
        ok = httpx.post(f"{base}/v1/predict", json=window, headers=AUTH, timeout=30)
        assert ok.status_code == 200 and ok.json()["label"] in CLASSES
        big = httpx.post(f"{base}/v1/predict", content=b"0" * (1024 * 1024), timeout=30,
                         headers={"content-type": "application/octet-stream", **AUTH})
        assert big.status_code == 413
        bad = httpx.post(f"{base}/v1/predict", content=b"[[[", headers={"content-type": "application/json", **AUTH},
                         timeout=30)
        assert bad.status_code == 400
        assert httpx.get(f"{base}/v1/model", headers={"Host": "evil.example", **AUTH}, timeout=5).status_code == 400
        pulled = []  # a chunked body of 64 MB against a limit of 0.5 MB: the service stops reading at the limit
        chunked = httpx.post(f"{base}/v1/timeline", content=_multipart_chunks("v.mp4", 64 << 20, pulled=pulled),
                             timeout=30, headers={**MULTIPART, **AUTH})
        assert chunked.status_code == 413 and chunked.request.headers["transfer-encoding"] == "chunked"
        assert len(pulled) < 128, len(pulled)  # of 1,024 chunks (socket buffers hold a few beyond the limit)
        with pytest.raises(ConnectionAbortedError):  # the client goes away mid-upload
            httpx.post(f"{base}/v1/timeline", content=_vanishing_upload(), timeout=30, headers={**MULTIPART, **AUTH})
        for _ in range(50):  # its job ends and frees the only slot (--queue 1)
            if "actline_jobs_active 0.0" in httpx.get(f"{base}/metrics", headers=AUTH, timeout=5).text:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the abandoned upload kept its slot")
        ok = httpx.post(f"{base}/v1/timeline", files={"file": ("v.mp4", b"\x00" * 100, "video/mp4")}, headers=AUTH,
                        timeout=30)
        assert ok.status_code == 202
        assert httpx.get(f"{base}/v1/timeline", headers=AUTH, timeout=5).status_code == 405
        assert httpx.get(f"{base}/healthz", timeout=5).json()["status"] == "ok"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_the_cli_refuses_to_listen_beyond_loopback_without_a_token(classifier):
    env = {k: v for k, v in os.environ.items() if k != "ACTLINE_TOKEN"}
    p = subprocess.run([sys.executable, "-m", "actline.cli", "serve", str(classifier), "--host", "0.0.0.0",
                        "--port", str(_free_port())], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert p.returncode == 2 and "needs a token" in p.stderr and len(p.stderr.strip().splitlines()) == 1
