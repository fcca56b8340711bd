"""Where events go: a JSON-lines log (appended, never truncated), a webhook, an MQTT topic, a callback.

Every sink takes :class:`~actline.infer.stream_config.Event` objects in ``emit(event)`` and must
never block frame intake: the webhook posts from its own thread through a bounded queue (events
beyond it are dropped and counted), with a timeout and retries with backoff.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

log = logging.getLogger("actline.stream")


class JsonlSink:
    """Appends one JSON object per line and flushes it, so a crash loses at most the line being written."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - appended live, closed in close()

    def emit(self, ev) -> None:
        self.fh.write(ev.to_json() + "\n")
        self.fh.flush()

    def close(self) -> None:
        self.fh.close()


class CallbackSink:
    def __init__(self, fn):
        self.fn = fn

    def emit(self, ev) -> None:
        self.fn(ev)

    def close(self) -> None:
        pass


class WebhookSink:
    """POSTs each event as JSON to ``url`` from a background thread: ``retries`` attempts with
    doubling backoff, ``timeout`` seconds each; a queue of ``max_queue`` events (then drops, counted)."""

    def __init__(self, url: str, timeout: float = 5.0, retries: int = 3, backoff: float = 0.5,
                 max_queue: int = 10_000, headers: dict | None = None):
        if not url.startswith(("http://", "https://")):
            from actline.core.errors import ActlineError

            raise ActlineError("--webhook", f"expected an http:// or https:// URL, got {url!r}")
        self.url, self.timeout, self.retries, self.backoff = url, timeout, retries, backoff
        self.headers = {"Content-Type": "application/json", **(headers or {})}
        self.q: queue.Queue = queue.Queue(max_queue)
        self.sent = self.failed = self.dropped = 0
        self.thread = threading.Thread(target=self._run, name="actline-webhook", daemon=True)
        self.thread.start()

    def emit(self, ev) -> None:
        try:
            self.q.put_nowait(ev.to_dict())
        except queue.Full:
            self.dropped += 1
            log.error("webhook queue full: event dropped (%d so far)", self.dropped)

    def _post(self, body: bytes) -> bool:
        for attempt in range(self.retries):
            try:
                req = urllib.request.Request(self.url, data=body, headers=self.headers, method="POST")
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    if 200 <= resp.status < 300:
                        return True
            except (urllib.error.URLError, OSError, ValueError) as exc:
                log.warning("webhook %s: attempt %d failed (%s)", self.url, attempt + 1, exc)
            time.sleep(self.backoff * 2 ** attempt)
        return False

    def _run(self) -> None:
        while True:
            item = self.q.get()
            if item is None:
                return
            if self._post(json.dumps(item).encode()):
                self.sent += 1
            else:
                self.failed += 1
                log.error("webhook %s: event dropped after %d attempts", self.url, self.retries)
            self.q.task_done()

    def close(self, wait_s: float = 10.0) -> None:
        deadline = time.monotonic() + wait_s
        while self.q.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.02)
        try:
            self.q.put_nowait(None)
        except queue.Full:
            pass


def emit_all(sinks, events) -> None:
    for ev in events:
        for s in sinks:
            s.emit(ev)


def open_sinks(events=None, webhook: str | None = None, on_event=None) -> list:
    """The sinks a stream writes to: a callback, a JSON-lines file (``events``) and a webhook, as given."""
    sinks = [CallbackSink(on_event)] if on_event else []
    if events:
        sinks.append(JsonlSink(events))
    if webhook:
        sinks.append(WebhookSink(webhook))
    return sinks
