"""Who may call the service, and what an upload may cost: token, Host allow-list, cross-site posts,
streamed body limits, failed uploads, job deadlines and hostile files through ``POST /v1/timeline``."""

import gzip
import json
import logging
import time

import h5py
import numpy as np
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from actline.apps.serve import ServeConfig, create_app
from actline.core.errors import ActlineError
from tests.apps.test_serve import (
    AUTH,
    LOCAL,
    MULTIPART,
    TOKEN,
    _multipart_chunks,
    _wait_job,
)
from tests.reliability.test_input_limits import _nagoya_text

# Every route and what a request to it needs; a new endpoint must be added here to pass the route check.
PROTECTED = [("GET", "/v1/model"), ("POST", "/v1/predict"), ("POST", "/v1/timeline"), ("GET", "/v1/jobs/x"),
             ("GET", "/metrics"), ("GET", "/docs"), ("GET", "/openapi.json")]
OPS = {"/metrics", "/docs", "/openapi.json"}


@pytest.fixture(scope="module")
def models(tmp_path_factory, timeline_model):
    from tests.apps.test_serve import _classifier

    return [_classifier(tmp_path_factory.mktemp("sec")), timeline_model]


def _call(c, method, path, headers=None):
    if path == "/v1/predict":
        return c.post(path, json={"frames": np.full((16, 16, 16), 21.0).tolist()}, headers=headers)
    if path == "/v1/timeline":
        return c.post(path, files={"file": ("x.mp4", b"\x00" * 10, "video/mp4")}, headers=headers)
    return c.request(method, path, headers=headers)


def _api_routes(routes):
    for r in routes:
        inner = getattr(r, "original_router", None)  # FastAPI >= 0.16x wraps included routers
        if inner is not None:
            yield from _api_routes(inner.routes)
        elif isinstance(r, APIRoute):
            yield r


def test_every_endpoint_but_healthz_needs_the_token(models):
    app = create_app(models, ServeConfig(token=TOKEN))
    routes = {(m, r.path) for r in _api_routes(app.routes) for m in r.methods}
    assert routes == {(m, p.replace("/x", "/{job_id}")) for m, p in PROTECTED} | {("GET", "/healthz")}
    with TestClient(app, base_url=LOCAL) as c:
        for method, path in PROTECTED:
            for headers in (None, {"Authorization": "Bearer wrong-token-0123456789"}, {"Authorization": TOKEN}):
                r = _call(c, method, path, headers)
                assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", (path, headers)
            assert _call(c, method, path, AUTH).status_code not in (401, 403), path
        assert c.get("/healthz").status_code == 200
        assert c.get("/nowhere").status_code == 404


def test_public_metrics_opens_only_metrics_and_docs(models):
    with TestClient(create_app(models, ServeConfig(token=TOKEN, public_metrics=True)), base_url=LOCAL) as c:
        for method, path in PROTECTED:
            assert (_call(c, method, path).status_code == 401) == (path not in OPS), path
        assert "actline_requests_total" in c.get("/metrics").text and "swagger" in c.get("/docs").text.lower()


def test_foreign_host_headers_are_refused(models):
    app = create_app(models, ServeConfig(token=TOKEN, allowed_hosts=("sensors.example",)))
    with TestClient(app, base_url=LOCAL, headers=AUTH) as c:
        for host in ("localhost:8000", "127.0.0.1", "[::1]:8000", "sensors.example"):
            assert c.get("/healthz", headers={"Host": host}).status_code == 200, host
        for host in ("evil.example", "127.0.0.1.evil.example", "attacker:8000", ""):
            assert c.get("/v1/model", headers={"Host": host}).status_code == 400, host


def test_cross_site_simple_requests_are_refused(models):
    """Without a token (loopback), a web page could still post a form or text to 127.0.0.1: refused."""
    with TestClient(create_app(models), base_url=LOCAL) as c:
        form = c.post("/v1/timeline", files={"file": ("x.mp4", b"\x00" * 10, "video/mp4")})
        assert form.status_code == 403 and "Authorization" in form.json()["detail"]
        for ctype in ("text/plain", "application/x-www-form-urlencoded"):
            assert c.post("/v1/predict", content=b"frames=1", headers={"content-type": ctype}).status_code == 415
        ok = c.post("/v1/timeline", files={"file": ("x.mp4", b"\x00" * 10, "video/mp4")},
                    headers={"Authorization": "Bearer local"})
        assert ok.status_code == 202
        _wait_job(c, ok.json()["job_id"])
        window = {"frames": np.full((16, 16, 16), 21.0).tolist()}
        assert c.post("/v1/predict", json=window, headers={"Origin": "https://evil.example"}).status_code == 403
        assert c.post("/v1/predict", json=window, headers={"Origin": "http://127.0.0.1:8000"}).status_code == 200


def test_listening_beyond_loopback_needs_a_token_or_a_loud_choice(models, caplog, monkeypatch):
    import uvicorn

    from actline.apps.serve import serve

    with pytest.raises(ActlineError, match="needs a token"):
        create_app(models, ServeConfig(host="0.0.0.0"))
    with pytest.raises(ActlineError, match="at least 16 characters"):
        ServeConfig(token="short").validate()
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: None)
    with caplog.at_level(logging.WARNING, logger="actline.serve"):
        serve(models, ServeConfig(host="0.0.0.0", insecure_no_token=True))
    assert "WITHOUT A TOKEN" in caplog.text
    caplog.clear()
    serve(models, ServeConfig(host="192.0.2.1", token=TOKEN))
    assert "WITHOUT A TOKEN" not in caplog.text


# ------------------------------------------------------------------ uploads
@pytest.fixture
def small(models):
    app = create_app(models, ServeConfig(token=TOKEN, max_body_mb=1, queue_size=1))
    with TestClient(app, base_url=LOCAL, headers=AUTH) as c:
        yield c


def _idle(c):
    jobs = c.app.state.service.jobs
    return jobs.active() == 0 and not list(jobs.root.iterdir())


def test_chunked_uploads_are_cut_off_at_the_limit(small):
    """(The test client hands the body over whole; the uvicorn test checks reading stops at the limit.)"""
    r = small.post("/v1/timeline", content=_multipart_chunks("v.mp4", 8 * 1024 * 1024), headers=MULTIPART)
    assert r.status_code == 413 and "exceeds the limit" in r.json()["detail"]
    assert _idle(small)


def test_failed_uploads_free_their_slot(small, rgb):
    """queue_size=1: if any failed upload kept its job, every later upload would get 429."""
    failures = [
        {"content": _multipart_chunks("v.mp4", 2 * 1024 * 1024), "headers": MULTIPART},  # 413
        {"files": {"file": ("x.exe", b"MZ", "application/octet-stream")}},  # 415
        {"content": b"--actlinetestboundary\r\nnot a part", "headers": MULTIPART},  # 400, ends early
        {"files": {"other": ("v.mp4", b"\x00", "video/mp4")}},  # 400, no 'file'
        {"content": b"--x\r\n" + b"A" * 20000, "headers": {"content-type": "multipart/form-data; boundary=x"}},
    ]
    for kw in failures * 2:
        r = small.post("/v1/timeline", **kw)
        assert 400 <= r.status_code < 500 and r.status_code != 429, (r.status_code, r.text)
        assert _idle(small)
    video = (rgb / "long" / "video_00.mp4").read_bytes()
    ok = small.post("/v1/timeline", files={"file": ("v.mp4", video, "video/mp4")})
    assert ok.status_code == 202
    _wait_job(small, ok.json()["job_id"])


def test_a_failed_write_ends_the_job_and_frees_its_slot(small, monkeypatch):
    """The disk fills up while an upload is written: 503, and the job does not stay 'queued' for ever."""
    from actline.apps.serve import body

    async def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(body.anyio, "open_file", full)
    for _ in range(3):  # queue_size=1
        r = small.post("/v1/timeline", files={"file": ("v.mp4", b"\x00" * 1000, "video/mp4")})
        assert r.status_code == 503 and r.headers["retry-after"] and "No space" not in r.text
        assert _idle(small)
    monkeypatch.undo()
    assert small.post("/v1/timeline", files={"file": ("v.mp4", b"\x00" * 1000, "video/mp4")}).status_code == 202


def test_jobs_past_their_deadline_fail_and_leave_nothing(models, monkeypatch):
    from actline.apps.serve import timeline_jobs as tl
    from actline.data.limits import current_limits

    def stuck(pipeline, path):
        while True:
            current_limits().check_deadline(path)
            time.sleep(0.01)

    monkeypatch.setattr(tl, "run_timeline", stuck)
    app = create_app(models, ServeConfig(token=TOKEN, job_timeout_s=0.5, queue_size=1))
    with TestClient(app, base_url=LOCAL, headers=AUTH) as c:
        job = c.post("/v1/timeline", files={"file": ("v.mp4", b"\x00" * 10, "video/mp4")}).json()["job_id"]
        status = _wait_job(c, job)
        assert status["status"] == "failed" and "time limit of 0.5 s" in status["error"]
        end = time.monotonic() + 5
        while not _idle(c) and time.monotonic() < end:
            time.sleep(0.02)
        assert _idle(c)


def test_a_runaway_video_ends_quickly(small, tmp_path):
    from tests.reliability.test_input_limits import _jumping_video

    data = _jumping_video(tmp_path / "jump.mkv", jump_s=50_000.0, n=40).read_bytes()
    job = small.post("/v1/timeline", files={"file": ("jump.mkv", data, "video/x-matroska")}).json()["job_id"]
    status = _wait_job(small, job, timeout=60)
    assert status["status"] == "done", status.get("error")
    assert status["timeline"][-1]["end_s"] < 60


# ------------------------------------------------------------------ hostile thermal files
def test_decompression_and_hdf5_bombs_are_refused_by_the_job(thermal_timeline_model, tmp_path):
    from actline.data.limits import ReadLimits

    model, data = thermal_timeline_model, thermal_timeline_model.parent / "nag"
    limits = ReadLimits(max_decompressed_bytes=2 << 20, max_frame_values=1 << 20)
    app = create_app([model], ServeConfig(token=TOKEN, limits=limits))
    real = next((data / "20170101" / "raw").glob("*.csv.gz")).read_bytes()
    bomb = gzip.compress(_nagoya_text(60_000), compresslevel=9)  # 80 MB of valid rows in ~300 KB
    h5 = tmp_path / "bomb.h5"
    with h5py.File(h5, "w") as fh:
        fh.create_dataset("frames", shape=(10**6, 10**4, 10**4), dtype="f4", chunks=(1, 100, 100))
        fh.create_dataset("timestamps", shape=(10**6,), dtype="i8")
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as fh:
        fh["frames"] = np.zeros((20, 16, 16), np.float32)
    link = tmp_path / "link.h5"
    with h5py.File(link, "w") as fh:
        fh["frames"] = h5py.ExternalLink(str(other), "/frames")
        fh["timestamps"] = np.arange(20) * 100
    with TestClient(app, base_url=LOCAL, headers=AUTH) as c:
        results = {}
        for name, content in [("ok.csv.gz", real), ("bomb.csv.gz", bomb), ("bomb.h5", h5.read_bytes()),
                              ("link.h5", link.read_bytes())]:
            r = c.post("/v1/timeline", files={"file": (name, content, "application/octet-stream")})
            assert r.status_code == 202, r.text
            results[name] = _wait_job(c, r.json()["job_id"])
        assert results["ok.csv.gz"]["status"] == "done", results["ok.csv.gz"]
        assert "decompresses to more than the limit" in results["bomb.csv.gz"]["error"]
        assert "more than the limit" in results["bomb.h5"]["error"]
        assert "links are not followed" in results["link.h5"]["error"]
        for r in results.values():
            assert str(tmp_path) not in json.dumps(r) and "actline-jobs" not in json.dumps(r)
