"""The application: models loaded once, runtime state owned by the lifespan, routers, middleware."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.middleware.trustedhost import TrustedHostMiddleware

from actline.apps.serve import info, predict_route, timeline_jobs
from actline.apps.serve.info import Metrics
from actline.apps.serve.jobs import JobQueue
from actline.apps.serve.predict_route import PredictPool
from actline.apps.serve.security import warn_if_exposed
from actline.apps.serve.settings import ServeConfig
from actline.core.errors import ActlineError
from actline.infer.room_cache import RoomCache

DESCRIPTION = """Action recognition and timelines from thermal recordings and videos.

`POST /v1/predict` takes one window (JSON `{"frames": [[[...]]], "timestamps": [...]}` or a `.npy`
body); `POST /v1/timeline` takes a video or recording as multipart field `file` and answers a job id
for `GET /v1/jobs/{id}`. Every endpoint but `/healthz` needs `Authorization: Bearer <token>` when the
service has a token."""


def load_models(paths: list[str | Path], backend: str | None = None, device: str = "cpu",
                threads: int = 0) -> tuple[Any, Any]:
    """(clip classifier or None, timeline pipeline or None), each opened with ``actline.load`` on the backend
    ``backend`` names (:mod:`actline.apps.model_backend`: by default a directory's ONNX export where it has one),
    on ``device`` with ``threads`` CPU threads."""
    from actline.apps.model_backend import open_model
    from actline.infer.loader import CLASSIFIER, model_kind

    found: dict[str, Any] = {}
    for p in paths:
        kind = model_kind(p)
        if kind in found:
            raise ActlineError(p, f"a second {kind} model: the service runs one of each")
        found[kind] = open_model(p, backend, device, threads)
    return found.get(CLASSIFIER), found.get("timeline")


@dataclass
class Service:
    """Everything a running application holds; made at startup and closed at shutdown by the lifespan."""

    cfg: ServeConfig
    recognizer: Any
    timeline: Any
    jobs: JobQueue
    predictions: PredictPool
    metrics: Metrics
    rooms: RoomCache
    alerts: dict | None = None  # the classifier's alerts.json (actline alerts choose), reported by /v1/model

    @classmethod
    def start(cls, cfg: ServeConfig, recognizer, timeline_model, alerts: dict | None = None) -> Service:
        jobs = JobQueue(partial(timeline_jobs.run_timeline, timeline_model), size=cfg.queue_size, workers=cfg.job_workers,
                        timeout_s=cfg.job_timeout_s, keep=cfg.keep_jobs, limits=cfg.limits)
        rooms = RoomCache(cfg.room_cache, cfg.room_ttl_s)
        return cls(cfg, recognizer, timeline_model, jobs, PredictPool(cfg.predict_workers, cfg.predict_backlog),
                   Metrics(jobs.active, rooms.__len__), rooms, alerts)

    def close(self) -> None:
        self.predictions.close()
        self.jobs.close()


def create_app(models: list[str | Path], cfg: ServeConfig | None = None) -> FastAPI:
    cfg = (cfg or ServeConfig()).validate()
    recognizer, timeline_model = load_models(models, cfg.backend, cfg.device, cfg.threads)
    alerts = _alert_setting(models, recognizer)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.service = Service.start(cfg, recognizer, timeline_model, alerts)
        try:
            yield
        finally:
            app.state.service.close()

    app = FastAPI(title="actline", version="1", description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None)  # served by info.ops, behind the token
    for router in (info.public, info.api, info.ops, predict_route.router, timeline_jobs.router):
        app.include_router(router)
    app.middleware("http")(_count)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=cfg.host_names())  # outermost: checked first
    app.add_exception_handler(ActlineError, _actline_error)
    return app


def _alert_setting(models: list[str | Path], recognizer) -> dict | None:
    """The clip classifier's checked ``alerts.json`` (None without one); a bad one stops the service starting."""
    from actline.infer.alert_settings import read_alerts
    from actline.infer.loader import CLASSIFIER, model_kind

    path = next((p for p in models if model_kind(p) == CLASSIFIER), None)
    return read_alerts(path, recognizer.classes) if path is not None and recognizer is not None else None


async def _count(request: Request, call_next):
    """Requests and latency per endpoint (the route's template, never the raw path) and status."""
    m, t0 = request.app.state.service.metrics, time.perf_counter()
    try:
        response = await call_next(request)
    except Exception:
        m.requests.labels("unmatched", "500").inc()
        raise
    endpoint = getattr(request.scope.get("route"), "path", "unmatched")
    m.requests.labels(endpoint, str(response.status_code)).inc()
    m.latency.labels(endpoint).observe(time.perf_counter() - t0)
    return response


async def _actline_error(request: Request, exc: ActlineError):
    return JSONResponse({"detail": str(exc)}, status_code=400)


def serve(models: list[str | Path], cfg: ServeConfig | None = None) -> None:
    """Run the service with uvicorn until interrupted (refused beyond loopback without a token)."""
    import uvicorn

    cfg = (cfg or ServeConfig()).validate()
    warn_if_exposed(cfg)
    uvicorn.run(create_app(models, cfg), host=cfg.host, port=cfg.port, log_level="info", timeout_keep_alive=5,
                limit_concurrency=64, server_header=False)
