"""``actline serve``: the models behind a small HTTP service (FastAPI on uvicorn).

Endpoints: ``POST /v1/predict`` (one window), ``POST /v1/timeline`` (an upload becomes a job),
``GET /v1/jobs/{id}``, ``GET /v1/model``, ``GET /healthz``, ``GET /metrics`` (Prometheus text),
``/docs`` and ``/openapi.json``. The package, one concern per module:

- ``config``: :class:`ServeConfig`, every setting, validated (no token beyond loopback is refused);
- ``security``: the API token, the Host allow-list, no cross-site form posts;
- ``body``: request bodies counted as they arrive; uploads streamed into their job's file;
- ``jobs``: :class:`JobQueue`, bounded, with deadlines and cleanup (no HTTP in it);
- ``predict``, ``timeline``, ``info``: the routers;
- ``app``: :func:`create_app` (models loaded once; state made and closed by the lifespan) and :func:`serve`.

``docs/service.md`` says what is guaranteed.
"""

from actline.apps.serve.http_app import create_app, serve
from actline.apps.serve.jobs import JobQueue
from actline.apps.serve.settings import ServeConfig

__all__ = ["JobQueue", "ServeConfig", "create_app", "serve"]
