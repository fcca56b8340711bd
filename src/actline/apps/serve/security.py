"""Who may call the service: an API token, a Host allow-list, and no cross-site form posts.

- **Token.** With a token configured, every endpoint but ``/healthz`` needs ``Authorization:
  Bearer <token>`` (compared in constant time); ``/metrics``, ``/docs`` and ``/openapi.json`` too,
  unless ``public_metrics``. Without one the service may only listen on loopback
  (:meth:`ServeConfig.validate` refuses anything else unless ``insecure_no_token``).
- **Host allow-list** (Starlette's ``TrustedHostMiddleware``): a request whose Host header names
  anything but the local names, the bound host or ``allowed_hosts`` is refused with 400, so a
  web page cannot reach the service through DNS rebinding.
- **No cross-site "simple requests".** A web page may POST a form or text to any address without
  the browser asking first; it cannot add an ``Authorization`` header or send JSON without a CORS
  preflight, which this service never grants. So every state-changing endpoint requires one of
  those: a JSON or ``.npy`` body, or an ``Authorization`` header (multipart uploads always need the
  header, even when no token is configured); and a request whose ``Origin`` is another site is
  refused.
"""

from __future__ import annotations

import logging
import secrets
from urllib.parse import urlsplit

from fastapi import HTTPException, Request

from actline.apps.serve.settings import ServeConfig, is_loopback

log = logging.getLogger("actline.serve")
NON_SIMPLE_TYPES = ("application/json", "application/octet-stream", "application/x-npy")


def _config(request: Request) -> ServeConfig:
    return request.app.state.service.cfg


def _token_ok(request: Request, token: str) -> bool:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    # headers arrive decoded as latin-1: encoding them back gives the bytes the client sent
    return scheme.lower() == "bearer" and secrets.compare_digest(value.strip().encode("latin-1"), token.encode())


def _check_token(request: Request) -> None:
    token = _config(request).token
    if token is not None and not _token_ok(request, token):
        raise HTTPException(401, "missing or wrong API token: send 'Authorization: Bearer <token>'",
                            headers={"WWW-Authenticate": "Bearer"})


async def require_token(request: Request) -> None:
    """Dependency of every endpoint but ``/healthz``."""
    _check_token(request)


async def require_token_unless_public(request: Request) -> None:
    """Dependency of ``/metrics``, ``/docs`` and ``/openapi.json``."""
    if not _config(request).public_metrics:
        _check_token(request)


async def refuse_cross_site(request: Request) -> None:
    """Dependency of every state-changing endpoint: no request a foreign web page could make unasked."""
    origin = request.headers.get("origin")
    if origin is not None and _origin_host(origin) not in _config(request).host_names():
        raise HTTPException(403, f"requests from web pages at {origin[:80]!r} are refused")
    if "authorization" in request.headers:
        return
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in NON_SIMPLE_TYPES:
        raise HTTPException(403 if ctype.startswith("multipart/") else 415,
                            "send an Authorization header with uploads (a web page cannot add one)"
                            if ctype.startswith("multipart/") else
                            "send application/json or a .npy body (application/octet-stream)")


def _origin_host(origin: str) -> str | None:
    try:
        host = urlsplit(origin).hostname
    except ValueError:
        return None
    return f"[{host}]" if host and ":" in host else host


def warn_if_exposed(cfg: ServeConfig) -> None:
    """A loud warning when the service listens beyond loopback without a token (``insecure_no_token``)."""
    if not is_loopback(cfg.host) and cfg.token is None:
        log.warning("!" * 78)
        log.warning("actline serve is listening on %s WITHOUT A TOKEN (--insecure-no-token): anyone who can "
                    "reach this port can run models and upload files. Set ACTLINE_TOKEN.", cfg.host)
        log.warning("!" * 78)
