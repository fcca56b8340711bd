"""``actline serve``: the models behind a small HTTP service (FastAPI on uvicorn).

Endpoints: ``POST /v1/predict`` (one window as JSON ``{"frames": [[[...]]], "timestamps": [...]}`` or
a ``.npy`` body), ``POST /v1/timeline`` (a video or recording uploaded as multipart ``file``; answers
a job id), ``GET /v1/jobs/{id}``, ``GET /v1/model``, ``GET /healthz``, ``GET /metrics`` (Prometheus
text), and the OpenAPI document at ``/openapi.json``.

Limits that keep it alive: a maximum body size (413), a per-request timeout (504), a bounded job
queue (429 when full), no file paths from clients (only bytes; an upload's name contributes its
extension, checked against a list), and uploads kept in a private temporary directory and removed
when their job ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import shutil
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from actline.core.errors import ActlineError
from actline.data.video import VIDEO_SUFFIXES

UPLOAD_SUFFIXES = VIDEO_SUFFIXES + (".h5", ".hdf5", ".csv", ".gz")


@dataclass
class ServeConfig:
    max_body_mb: float = 64.0
    timeout_s: float = 30.0
    queue_size: int = 4  # timeline jobs waiting or running
    keep_jobs: int = 100  # finished jobs remembered for GET /v1/jobs/{id}


def _load(path: Path):
    """(kind, model): a clip classifier (Recognizer) or a timeline pipeline, by what the path holds."""
    from actline.infer.load import CLASSIFIER, load, model_kind

    return ("classifier" if model_kind(path) == CLASSIFIER else "timeline"), load(path)


def create_app(models: list[str | Path], cfg: ServeConfig | None = None) -> FastAPI:
    cfg = cfg or ServeConfig()
    loaded = dict(_load(Path(p)) for p in models)
    recog, timeline = loaded.get("classifier"), loaded.get("timeline")
    max_bytes = int(cfg.max_body_mb * 1024 * 1024)
    upload_dir = Path(tempfile.mkdtemp(prefix="actline-serve-"))  # mode 0700: private to this process
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="actline-job")
    jobs: OrderedDict[str, dict] = OrderedDict()
    lock = threading.Lock()

    reg = CollectorRegistry()
    requests = Counter("actline_requests_total", "HTTP requests", ["endpoint", "status"], registry=reg)
    latency = Histogram("actline_request_seconds", "Request latency", ["endpoint"], registry=reg)
    predictions = Counter("actline_predictions_total", "Predictions per class", ["label"], registry=reg)
    queued = Gauge("actline_jobs_active", "Timeline jobs waiting or running", registry=reg)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        pool.shutdown(wait=False, cancel_futures=True)
        shutil.rmtree(upload_dir, ignore_errors=True)

    app = FastAPI(title="actline", version="1", description=__doc__, lifespan=lifespan)

    @app.middleware("http")
    async def count(request: Request, call_next):
        t0 = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:  # noqa: BLE001 - counted, then FastAPI's own 500
            requests.labels(request.url.path, "500").inc()
            raise
        route = request.scope.get("route")
        endpoint = getattr(route, "path", "unmatched")
        requests.labels(endpoint, str(response.status_code)).inc()
        latency.labels(endpoint).observe(time.perf_counter() - t0)
        return response

    async def read_body(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise HTTPException(413, f"body of {int(declared)} bytes exceeds the limit of {max_bytes}")
        buf = bytearray()
        async for chunk in request.stream():
            buf += chunk
            if len(buf) > max_bytes:
                raise HTTPException(413, f"body exceeds the limit of {max_bytes} bytes")
        return bytes(buf)

    @app.get("/healthz")
    def healthz():
        return {"status": "ok", "classifier": recog is not None, "timeline": timeline is not None}

    @app.get("/v1/model")
    def model_info():
        out = {}
        if recog is not None:
            c = recog.config
            out["classifier"] = {"classes": recog.classes, "window": c.get("window"),
                                 "preprocessing": c.get("preprocessing"), "metrics": c.get("metrics"),
                                 "backend": type(recog.classifier).__name__}
        if timeline is not None:
            out["timeline"] = {"classes": timeline.classes, "features": timeline.cfg.get("features"),
                               "decoding": timeline.cfg.get("decoding"), "metrics": timeline.cfg.get("metrics")}
        return out

    @app.post("/v1/predict")
    async def predict(request: Request):
        if recog is None:
            raise HTTPException(404, "no clip classifier is loaded in this service")
        body = await read_body(request)
        ctype = request.headers.get("content-type", "").split(";")[0].strip()
        timestamps = None
        try:
            if ctype == "application/json":
                obj = json.loads(body)
                if not isinstance(obj, dict) or "frames" not in obj:
                    raise ValueError('expected {"frames": [[[...]]], "timestamps": [...] (optional)}')
                frames = np.asarray(obj["frames"], dtype=np.float32)
                timestamps = obj.get("timestamps")
            elif ctype in ("application/octet-stream", "application/x-npy"):
                frames = np.load(io.BytesIO(body), allow_pickle=False)  # never unpickle client data
            else:
                raise HTTPException(415, "send application/json or a .npy body (application/octet-stream)")
        except HTTPException:
            raise
        except Exception as exc:  # noqa: BLE001 - any undecodable body is a client error
            raise HTTPException(400, f"cannot read the window: {type(exc).__name__}: {exc}") from None
        loop = asyncio.get_running_loop()
        try:
            pred = await asyncio.wait_for(loop.run_in_executor(None, lambda: recog.predict(frames, timestamps)),
                                          cfg.timeout_s)
        except asyncio.TimeoutError:
            raise HTTPException(504, f"prediction took longer than {cfg.timeout_s} s") from None
        except ActlineError as exc:
            raise HTTPException(400, str(exc)) from None
        predictions.labels(pred.label).inc()
        return pred.to_dict()

    def run_job(job_id: str, path: Path):
        job = jobs[job_id]
        job["status"], job["started"] = "running", time.time()
        try:
            job["timeline"] = [s.__dict__ for s in timeline.run(path)]
            job["status"] = "done"
        except ActlineError as exc:
            job["status"], job["error"] = "failed", str(exc).replace(str(path), "upload")
        except Exception as exc:  # noqa: BLE001 - a job must end with a status, whatever happened
            job["status"], job["error"] = "failed", f"{type(exc).__name__}: {exc}".replace(str(path), "upload")
        finally:
            job["finished"] = time.time()
            path.unlink(missing_ok=True)
            queued.dec()

    @app.post("/v1/timeline", status_code=202)
    async def submit(request: Request):
        if timeline is None:
            raise HTTPException(404, "no timeline model is loaded in this service")
        form = await _form(request)
        upload = form.get("file")
        if upload is None or not hasattr(upload, "read"):
            raise HTTPException(400, "upload the video or recording as multipart field 'file'")
        name = Path(upload.filename or "").name.lower()
        suffix = ".csv.gz" if name.endswith(".csv.gz") else Path(name).suffix
        if suffix not in UPLOAD_SUFFIXES and suffix != ".csv.gz":
            raise HTTPException(415, f"unsupported file type {suffix or '(none)'!r} (known: {', '.join(UPLOAD_SUFFIXES)})")
        with lock:
            active = sum(j["status"] in ("queued", "running") for j in jobs.values())
            if active >= cfg.queue_size:
                raise HTTPException(429, f"{active} jobs are queued or running; try again later")
            job_id = uuid.uuid4().hex
            jobs[job_id] = {"id": job_id, "status": "queued", "created": time.time()}
            while len(jobs) > cfg.keep_jobs:
                oldest = next(iter(jobs))
                if jobs[oldest]["status"] in ("queued", "running"):
                    break
                jobs.pop(oldest)
        path = upload_dir / f"{job_id}{suffix}"  # our name, never the client's path
        size = 0
        with open(path, "wb") as fh:
            while chunk := await upload.read(1 << 20):
                size += len(chunk)
                if size > max_bytes:
                    fh.close()
                    path.unlink(missing_ok=True)
                    jobs.pop(job_id, None)
                    raise HTTPException(413, f"upload exceeds the limit of {max_bytes} bytes")
                fh.write(chunk)
        queued.inc()
        pool.submit(run_job, job_id, path)
        return {"job_id": job_id, "status_url": f"/v1/jobs/{job_id}"}

    async def _form(request: Request):
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_bytes + 65536:
            raise HTTPException(413, f"body of {int(declared)} bytes exceeds the limit of {max_bytes}")
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise HTTPException(415, "send multipart/form-data with a field 'file'")
        try:
            return await request.form(max_files=1, max_fields=4)
        except Exception as exc:  # noqa: BLE001 - malformed multipart is a client error
            raise HTTPException(400, f"malformed multipart body: {exc}") from None

    @app.get("/v1/jobs/{job_id}")
    def job_status(job_id: str):
        job = jobs.get(job_id)
        if job is None:
            raise HTTPException(404, f"no job {job_id!r}")
        return job

    @app.get("/metrics")
    def metrics():
        return PlainTextResponse(generate_latest(reg).decode(), media_type=CONTENT_TYPE_LATEST)

    @app.exception_handler(ActlineError)
    async def actline_error(request: Request, exc: ActlineError):
        return JSONResponse({"detail": str(exc)}, status_code=400)

    app.state.jobs, app.state.upload_dir = jobs, upload_dir
    return app


def serve(models: list[str | Path], host: str = "127.0.0.1", port: int = 8000, cfg: ServeConfig | None = None) -> None:
    import uvicorn

    uvicorn.run(create_app(models, cfg), host=host, port=port, log_level="info",
                timeout_keep_alive=5, limit_concurrency=64)
