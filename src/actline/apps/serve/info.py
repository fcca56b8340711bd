"""What the service says about itself: ``/healthz``, ``/v1/model``, ``/metrics``, ``/docs``, ``/openapi.json``."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Depends, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from actline.apps.serve.security import require_token, require_token_unless_public

public = APIRouter()
api = APIRouter(dependencies=[Depends(require_token)])
ops = APIRouter(dependencies=[Depends(require_token_unless_public)])


class Metrics:
    """The service's Prometheus metrics, in a registry of its own (one per application)."""

    def __init__(self, active_jobs: Callable[[], int], rooms_kept: Callable[[], int] = lambda: 0):
        self.registry = reg = CollectorRegistry()
        self.requests = Counter("actline_requests_total", "HTTP requests", ["endpoint", "status"], registry=reg)
        self.latency = Histogram("actline_request_seconds", "Request latency", ["endpoint"], registry=reg)
        self.predictions = Counter("actline_predictions_total", "Predictions per class", ["label"], registry=reg)
        Gauge("actline_jobs_active", "Timeline jobs uploading, waiting or running", registry=reg).set_function(active_jobs)
        Gauge("actline_rooms_kept", "Recordings whose empty room /v1/predict keeps", registry=reg).set_function(rooms_kept)


@public.get("/healthz")
def healthz(request: Request):
    svc = request.app.state.service
    return {"status": "ok", "classifier": svc.recognizer is not None, "timeline": svc.timeline is not None}


@api.get("/v1/model")
def model_info(request: Request):
    svc, out = request.app.state.service, {}
    if svc.recognizer is not None:
        r, c = svc.recognizer, svc.recognizer.config
        out["classifier"] = {"classes": r.classes, "window": c.get("window"), "preprocessing": c.get("preprocessing"),
                             "metrics": c.get("metrics"), "backend": _runtime(r.classifier), "alerts": svc.alerts}
    if svc.timeline is not None:
        t = svc.timeline
        out["timeline"] = {"classes": t.classes, "features": t.cfg.get("features"), "decoding": t.cfg.get("decoding"),
                           "metrics": t.cfg.get("metrics")}
    return out


def _runtime(classifier) -> str:
    """What runs the main network (OnnxClassifier, TorchClassifier) under the parts that wrap it."""
    while classifier.__dict__.get("inner") is not None:
        classifier = classifier.__dict__["inner"]
    return type(classifier).__name__


@ops.get("/metrics", include_in_schema=False)
def metrics(request: Request):
    return PlainTextResponse(generate_latest(request.app.state.service.metrics.registry).decode(),
                             media_type=CONTENT_TYPE_LATEST)


@ops.get("/openapi.json", include_in_schema=False)
def openapi(request: Request):
    return JSONResponse(request.app.openapi())


@ops.get("/docs", include_in_schema=False)
def docs():
    return get_swagger_ui_html(openapi_url="/openapi.json", title="actline service")
