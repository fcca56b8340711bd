"""The label page's server: the page itself (static files, no CDN), and a small JSON/binary API.

``GET /`` and ``/static/*`` are the page (public: they hold no data). Everything under ``/api`` follows
the rules of ``actline serve`` (:mod:`actline.apps.serve.security`): the token when one is set (always
beyond loopback), the Host allow-list, and no state change from a cross-site request. Bad requests get
a 4xx with one line; request bodies are capped before they are parsed.

- ``GET /api/dataset``: classes, version, recordings (name, frames, size, duration), whether a queue is open;
- ``GET /api/recordings/{name}``: its shape, first timestamp, colour range, segments, the version;
- ``GET /api/recordings/{name}/times``: each frame's seconds from the first frame, float64 little-endian;
- ``GET /api/recordings/{name}/frames?start=&count=``: frames as int16 centi-degrees, little-endian;
- ``POST /api/save``: ``{"version", "segments": {recording: [[start_s, end_s, label], ...]}, "classes"}``;
- ``GET /api/review``, ``GET /api/review/{id}/frames``, ``POST /api/review/{id}/answer``.
"""

from __future__ import annotations

import getpass
import json
import threading
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import anyio
import numpy as np
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.middleware.trustedhost import TrustedHostMiddleware

from actline.apps.label import label_review
from actline.apps.label.label_requests import parse_answer, parse_save, segment_rows
from actline.apps.label.label_store import LabelStore, StaleVersion, centi_degrees, colour_range
from actline.apps.serve.body import read_body
from actline.apps.serve.security import refuse_cross_site, require_token
from actline.apps.serve.settings import ServeConfig
from actline.core.errors import ActlineError
from actline.data.labels import review_queue
from actline.data.labels.heatmap import LUT, SENTINEL_RGB

CHUNK = 256  # frames the page asks for at a time (40x60: 1.2 MB)
MAX_CHUNK = 512  # frames per /frames request (40x60: 2.4 MB)
MAX_SAVE_BYTES = 8 << 20  # a save's JSON (a day of segments is ~100 KB)
STATIC = {"index.html": "text/html", "style.css": "text/css", "player.js": "text/javascript",
          "timeline.js": "text/javascript", "review.js": "text/javascript", "app.js": "text/javascript"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


@dataclass
class LabelService:
    """What the running page server holds (``app.state.service``; ``cfg`` is what the security rules read)."""

    cfg: ServeConfig
    store: LabelStore
    queue: Path | None = None
    user: str = "someone"
    review_lock: threading.Lock = field(default_factory=threading.Lock)


def _service(request: Request) -> LabelService:
    return request.app.state.service


def _recording(svc: LabelService, name: str):
    try:
        return svc.store.recording(name)
    except KeyError:
        raise HTTPException(404, f"no recording {name[:80]!r} in {svc.store.root / 'frames'}") from None


api = APIRouter(prefix="/api", dependencies=[Depends(require_token)])


@api.get("/dataset")
def dataset(request: Request) -> dict:
    svc = _service(request)
    version, classes, segments = svc.store.state()
    recs = []
    for name in svc.store.names():
        try:
            r = svc.store.recording(name)
        except ActlineError as exc:  # one bad file must not hide the others
            recs.append({"name": name, "error": str(exc)})
            continue
        recs.append({"name": name, "frames": r.n_frames, "height": r.height, "width": r.width,
                     "duration_s": round(r.duration_s, 3), "segments": len(segments.get(name, []))})
    return {"name": svc.store.root.name, "classes": classes, "version": version, "recordings": recs,
            "review": svc.queue is not None, "user": svc.user,
            "colours": {"lut": LUT.reshape(-1).tolist(), "sentinel": list(SENTINEL_RGB)}}  # the rendered videos' colours


@api.get("/recordings/{name}")
def recording(name: str, request: Request) -> dict:
    svc = _service(request)
    r = _recording(svc, name)
    version, classes, segments = svc.store.state()
    lo, hi = colour_range(r)
    return {"name": name, "frames": r.n_frames, "height": r.height, "width": r.width, "t0": float(r.timestamps[0]),
            "duration_s": r.duration_s, "vmin": lo, "vmax": hi, "chunk": CHUNK, "max_chunk": MAX_CHUNK,
            "segments": segment_rows(segments.get(name, [])), "classes": classes, "version": version}


@api.get("/recordings/{name}/times")
def times(name: str, request: Request) -> Response:
    r = _recording(_service(request), name)
    return Response(r.time_s.astype("<f8").tobytes(), media_type="application/octet-stream",
                    headers={"Cache-Control": "no-store"})


@api.get("/recordings/{name}/frames")
def frames(name: str, request: Request, start: int = 0, count: int = CHUNK) -> Response:
    r = _recording(_service(request), name)
    if not 0 <= start < r.n_frames or not 1 <= count <= MAX_CHUNK:
        raise HTTPException(400, f"need 0 <= start < {r.n_frames} and 1 <= count <= {MAX_CHUNK}")
    stop = min(start + count, r.n_frames)
    return Response(centi_degrees(r.read(start, stop)), media_type="application/octet-stream",
                    headers={"X-Start": str(start), "X-Count": str(stop - start), "Cache-Control": "no-store"})


@api.post("/save", dependencies=[Depends(refuse_cross_site)])
async def save(request: Request) -> dict:
    svc = _service(request)
    body = _json(await read_body(request, min(MAX_SAVE_BYTES, svc.cfg.max_body_bytes)))
    version, segments, classes = parse_save(body)
    new = await anyio.to_thread.run_sync(svc.store.save, segments, classes, version)
    return {"version": new}


@api.get("/review")
def review(request: Request, answered: bool = False) -> dict:
    svc = _queue(request)
    items = review_queue.read_items(svc.queue, answered=answered)
    return {"items": [i.to_dict() for i in items], "open": len(items) if not answered else None}


@api.get("/review/{item_id}")
def review_item(item_id: str, request: Request) -> dict:
    svc = _queue(request)
    item = review_queue.read_item(svc.queue, review_queue.check_id(item_id))
    x, ts = review_queue.read_item_frames(svc.queue, item_id)
    valid = x[x > -100.0]
    lo, hi = (float(np.floor(valid.min())), float(np.ceil(valid.max()))) if valid.size else (15.0, 35.0)
    return {"item": item.to_dict(), "frames": int(x.shape[0]), "height": int(x.shape[1]), "width": int(x.shape[2]),
            "t0": float(ts[0]), "times": [round(float(t - ts[0]), 4) for t in ts], "vmin": lo, "vmax": max(hi, lo + 1),
            "recording": label_review.item_recording_name(item)}


@api.get("/review/{item_id}/frames")
def review_frames(item_id: str, request: Request) -> Response:
    svc = _queue(request)
    x, _ = review_queue.read_item_frames(svc.queue, review_queue.check_id(item_id))
    return Response(centi_degrees(x), media_type="application/octet-stream", headers={"Cache-Control": "no-store"})


@api.post("/review/{item_id}/answer", dependencies=[Depends(refuse_cross_site)])
async def review_answer(item_id: str, request: Request) -> dict:
    svc = _queue(request)
    label, who = parse_answer(_json(await read_body(request, 64 * 1024)), svc.user)
    review_queue.check_id(item_id)

    def run():
        with svc.review_lock:
            return label_review.answer(svc.store, svc.queue, item_id, label, who)

    return await anyio.to_thread.run_sync(run)


def _queue(request: Request) -> LabelService:
    svc = _service(request)
    if svc.queue is None:
        raise HTTPException(404, "no review queue: start the page with --review DIR")
    return svc


def _json(body: bytes):
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HTTPException(400, f"the body is not JSON: {exc}") from None


pages = APIRouter()


@pages.get("/")
def index() -> Response:
    return static("index.html")


@pages.get("/static/{name}")
def static(name: str) -> Response:
    if name not in STATIC:
        raise HTTPException(404, f"no file {name[:80]!r}")
    data = resources.files("actline.apps.label").joinpath("static", name).read_bytes()
    return Response(data, media_type=STATIC[name], headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache",
                                                             "X-Content-Type-Options": "nosniff"})


def create_label_app(data: str | Path, review: str | Path | None = None, cfg: ServeConfig | None = None) -> FastAPI:
    """The page's application over the data set ``data`` (and the review queue ``review``)."""
    cfg = (cfg or ServeConfig()).validate()
    store = LabelStore(data)
    queue = Path(review) if review is not None else None
    if queue is not None:
        queue.mkdir(parents=True, exist_ok=True)
    app = FastAPI(title="actline label", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.service = LabelService(cfg, store, queue, _user())
    app.include_router(pages)
    app.include_router(api)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=cfg.host_names())
    app.add_exception_handler(ActlineError, _actline_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    return app


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "someone"


async def _actline_error(request: Request, exc: ActlineError):
    status = 409 if isinstance(exc, StaleVersion) else 404 if "file not found" in exc.message else 400
    return JSONResponse({"detail": str(exc), "stale": isinstance(exc, StaleVersion)}, status_code=status)


async def _invalid_request(request: Request, exc: RequestValidationError):
    """FastAPI's own checks of query parameters, as one line."""
    first = (exc.errors() or [{}])[0]
    where = ".".join(str(x) for x in first.get("loc", ())[1:]) or "request"
    return JSONResponse({"detail": f"{where}: {first.get('msg', 'invalid')}"}, status_code=400)


def run_label(data: str | Path, review: str | Path | None = None, cfg: ServeConfig | None = None,
              announce=None) -> None:
    """Serve the page with uvicorn until interrupted (refused beyond loopback without a token); ``announce(url)``
    is called once the data set has been opened."""
    import uvicorn

    cfg = (cfg or ServeConfig()).validate()
    app = create_label_app(data, review, cfg)
    if announce is not None:
        host = "127.0.0.1" if cfg.host in ("0.0.0.0", "::", "") else f"[{cfg.host}]" if ":" in cfg.host else cfg.host
        announce(f"http://{host}:{cfg.port}/")
    uvicorn.run(app, host=cfg.host, port=cfg.port, log_level="warning", timeout_keep_alive=5,
                limit_concurrency=64, server_header=False)
