"""Health of a running ``actline stream``: per-sensor status as JSON and Prometheus metrics.

``--status-port PORT`` serves, on loopback by default:

- ``GET /healthz``: ``{"ok": true, "sensors": N}`` (no token needed, nothing per sensor);
- ``GET /status``: per sensor, the last frame's sensor time and age, frames per second, state,
  counts of frames, model runs, refused frames by reason and events by kind; frames the intake
  dropped, by reason; with ``--record``, the recorder (recording or stopped, and why; the bytes it
  wrote and its cap; per sensor, the frames recorded, the files written and their bytes); without a
  model, each sensor's frame size instead of its state, model runs and events;
- ``GET /metrics``: the same as Prometheus metrics labelled by sensor.

Beyond loopback (``--status-host``) the token is required (``ACTLINE_TOKEN``, sent as
``Authorization: Bearer TOKEN``) for ``/status`` and ``/metrics``; the server refuses to start
there without one. The metrics are gathered when scraped, from the hub's counters: no cost per
frame. :func:`metrics_text` and ``StreamHub.status()`` are what a service can mount instead.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from actline.core.errors import ActlineError

TOKEN_ENV = "ACTLINE_TOKEN"


def _collector(hub):
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    class HubCollector:
        def collect(self):
            st = hub.status()
            sensors = st["sensors"]
            frames = CounterMetricFamily("actline_stream_frames", "Frames taken per sensor", labels=["sensor"])
            runs = CounterMetricFamily("actline_stream_model_runs", "Model runs per sensor", labels=["sensor"])
            errors = CounterMetricFamily("actline_stream_refused_frames", "Refused frames", labels=["sensor", "reason"])
            events = CounterMetricFamily("actline_stream_events", "Events published", labels=["sensor", "kind"])
            fps = GaugeMetricFamily("actline_stream_fps", "Frames per second (recent)", labels=["sensor"])
            last = GaugeMetricFamily("actline_stream_last_frame_timestamp_seconds", "Sensor time of the last frame",
                                     labels=["sensor"])
            state = GaugeMetricFamily("actline_stream_state", "1 for the sensor's current state", labels=["sensor", "state"])
            for s, v in sensors.items():
                frames.add_metric([s], v["frames"])
                fps.add_metric([s], v["fps"])
                if v["last_frame_t"] is not None:
                    last.add_metric([s], v["last_frame_t"])
                for r, n in v["errors"].items():
                    errors.add_metric([s, r], n)
                if "model_runs" in v:  # a stream with a model (without one, it only records)
                    runs.add_metric([s], v["model_runs"])
                    state.add_metric([s, v["state"] or "none"], 1)
                    for k, n in v["events"].items():
                        events.add_metric([s, k], n)
            dropped = CounterMetricFamily("actline_stream_dropped_frames", "Frames the intake dropped", labels=["reason"])
            for r, n in st["dropped"].items():
                dropped.add_metric([r], n)
            yield from (frames, runs, errors, events, fps, last, state, dropped)
            if "recording" in st:
                yield from _recording_metrics(st["recording"])

    return HubCollector()


def _recording_metrics(rec: dict):
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    yield GaugeMetricFamily("actline_stream_recording", "1 while --record records, 0 once it stopped",
                            value=1 if rec["recording"] else 0)
    frames = CounterMetricFamily("actline_stream_recorded_frames", "Frames recorded per sensor", labels=["sensor"])
    size = GaugeMetricFamily("actline_stream_recorded_bytes", "Bytes of a sensor's recordings", labels=["sensor"])
    for s, v in rec.get("sensors", {}).items():
        frames.add_metric([s], v["frames"])
        size.add_metric([s], v["bytes"])
    yield from (frames, size)


def metrics_text(hub) -> bytes:
    """Prometheus text exposition of a hub's per-sensor metrics."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_collector(hub))
    return generate_latest(registry)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_status(hub, host: str = "127.0.0.1", port: int = 0, token: str | None = None) -> ThreadingHTTPServer:
    """Start the status server in a daemon thread; ``server.server_address`` has the bound port."""
    token = token if token is not None else os.environ.get(TOKEN_ENV)
    if not is_loopback(host) and not token:
        raise ActlineError("--status-host", f"{host} is beyond loopback: set {TOKEN_ENV} (clients send it as a Bearer token)")

    class Handler(BaseHTTPRequestHandler):
        def _send(self, code: int, body: bytes, ctype: str = "application/json") -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):  # noqa: N802 - the name http.server calls
            path = self.path.split("?")[0]
            if path == "/healthz":
                return self._send(200, json.dumps({"ok": True, "sensors": len(hub.sensors)}).encode())
            if path not in ("/status", "/metrics"):
                return self._send(404, b'{"detail": "not found"}')
            if token and not hmac.compare_digest(self.headers.get("Authorization", ""), f"Bearer {token}"):
                return self._send(401, b'{"detail": "missing or wrong token"}')
            if path == "/status":
                return self._send(200, json.dumps(hub.status()).encode())
            return self._send(200, metrics_text(hub), "text/plain; version=0.0.4")

        def log_message(self, *args):  # requests are not worth a log line each
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="actline-status", daemon=True).start()
    return server
