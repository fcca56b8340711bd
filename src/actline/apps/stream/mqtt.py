"""MQTT intake: sensors publish frames, one topic per sensor; events go back to ``actline/<sensor>/events``.

The broker URL is ``mqtt://[user@]host:port/pattern`` (``mqtts://`` for TLS, verified against the
system's CA certificates). The pattern has exactly one ``+`` level, whose value is the sensor id
(``sensors/+/frames`` takes ``sensors/SL14/frames`` as sensor ``SL14``). The password comes from
``ACTLINE_MQTT_PASSWORD``, never from the command line.

paho-mqtt's network thread only puts ``(sensor, payload)`` into a queue bounded in messages and in
bytes (frame intake never waits for the model; what does not fit is dropped, counted by reason in
the hub); one worker thread drains it into :class:`StreamHub`, which decodes,
refuses bad payloads (counted, logged) and runs the model batched across sensors (or, without a model,
:class:`~actline.apps.stream.record_only.RecordingHub`, which only records them). Events are
published as JSON with QoS 1 and go to the other sinks (log file, webhook). Subscriptions are
plain, never shared (``$share/...``): one sensor's frames must all reach the process that holds
its state; several processes split sensors with ``--shard K/N`` instead.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from actline.core.errors import ActlineError

log = logging.getLogger("actline.stream")
PASSWORD_ENV = "ACTLINE_MQTT_PASSWORD"
EVENTS_TOPIC = "actline/{sensor}/events"
MAX_QUEUE, MAX_QUEUE_BYTES = 20_000, 256 << 20
DROP_REASONS = ("queue_messages", "queue_bytes", "too_large", "topic")


@dataclass
class BrokerURL:
    host: str
    port: int
    pattern: str
    tls: bool = False
    user: str | None = None

    def sensor_of(self, topic: str) -> str | None:
        levels, want = topic.split("/"), self.pattern.split("/")
        if len(levels) != len(want):
            return None
        sensor = None
        for got, w in zip(levels, want):
            if w == "+":
                sensor = got
            elif got != w:
                return None
        return sensor or None


def parse_broker_url(url: str) -> BrokerURL:
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts"):
        raise ActlineError("--mqtt", f"expected mqtt:// or mqtts://, got {url!r}")
    if parts.password is not None:
        raise ActlineError("--mqtt", f"put no password in the URL: set {PASSWORD_ENV} instead")
    pattern = unquote(parts.path.lstrip("/"))
    levels = pattern.split("/")
    if levels.count("+") != 1 or "#" in pattern or pattern.startswith("$"):
        raise ActlineError("--mqtt", f"the topic pattern needs exactly one '+' level (the sensor id) and no '#', "
                           f"got {pattern!r}")
    try:
        port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
    except ValueError as exc:
        raise ActlineError("--mqtt", f"bad port in {url!r} ({exc})") from None
    if not parts.hostname:
        raise ActlineError("--mqtt", f"no host in {url!r}")
    return BrokerURL(parts.hostname, port, pattern, parts.scheme == "mqtts", unquote(parts.username) if parts.username else None)


class MqttStream:
    """The intake client, the worker thread and the event publisher around one :class:`StreamHub`."""

    def __init__(self, hub, url: str, max_queue: int = MAX_QUEUE, client_id: str | None = None,
                 max_bytes: int = MAX_QUEUE_BYTES):
        import paho.mqtt.client as mqtt

        if max_queue < 1 or max_bytes < 1:
            raise ActlineError("--queue-bytes", f"the intake queue needs room: got {max_queue} messages, {max_bytes} bytes")
        self.hub, self.url = hub, parse_broker_url(url)
        self.q: queue.Queue = queue.Queue(max_queue)
        self.max_bytes, self.q_bytes, self.q_lock = max_bytes, 0, threading.Lock()
        self.connected = threading.Event()
        self.stop_flag = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or "")
        if self.url.user:
            self.client.username_pw_set(self.url.user, os.environ.get(PASSWORD_ENV))
        if self.url.tls:
            self.client.tls_set()
        self.client.reconnect_delay_set(1, 30)
        self.client.on_connect, self.client.on_message = self._on_connect, self._on_message
        self.client.on_disconnect = self._on_disconnect
        self.worker = threading.Thread(target=self._work, name="actline-stream-worker", daemon=True)

    def _on_connect(self, client, userdata, flags, reason_code, properties=None):
        if reason_code.is_failure:
            log.error("MQTT connection refused: %s", reason_code)
            return
        client.subscribe(self.url.pattern, qos=1)
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties=None):
        self.connected.clear()
        if not self.stop_flag.is_set():
            log.warning("MQTT disconnected (%s): reconnecting", reason_code)

    def _drop(self, reason: str, why: str) -> None:
        n = self.hub.count_drop(reason)
        if n <= 10 or n % 1000 == 0:  # every drop is counted; the log says the first ones and then every 1000th
            log.error("frame dropped (%s): %s; %d so far", reason, why, n)

    def _on_message(self, client, userdata, msg):
        from actline.apps.stream.payloads import MAX_PAYLOAD_BYTES

        sensor, n = self.url.sensor_of(msg.topic), len(msg.payload)
        if sensor is None:
            return self._drop("topic", f"topic {msg.topic[:80]!r} names no sensor")
        if n > MAX_PAYLOAD_BYTES:
            return self._drop("too_large", f"{sensor}: a payload of {n} bytes (at most {MAX_PAYLOAD_BYTES})")
        with self.q_lock:
            if self.q_bytes + n > self.max_bytes:
                return self._drop("queue_bytes", f"the intake queue holds {self.q_bytes} bytes (the model cannot keep up)")
            try:
                self.q.put_nowait((sensor, bytes(msg.payload)))
            except queue.Full:
                return self._drop("queue_messages", f"the intake queue holds {self.q.maxsize} frames "
                                  "(the model cannot keep up)")
            self.q_bytes += n

    def publish(self, events) -> None:
        for ev in events:
            self.client.publish(EVENTS_TOPIC.format(sensor=ev.sensor), ev.to_json(), qos=1)

    def _work(self) -> None:
        while not (self.stop_flag.is_set() and self.q.empty()):
            try:
                items = [self.q.get(timeout=0.1)]
            except queue.Empty:
                continue
            while len(items) < 4096:
                try:
                    items.append(self.q.get_nowait())
                except queue.Empty:
                    break
            with self.q_lock:
                self.q_bytes -= sum(len(p) for _, p in items)
            try:
                self.hub.process(items)
            except Exception:  # noqa: BLE001 - one bad batch must not stop every sensor; it is logged whole
                log.exception("processing %d frames failed", len(items))
                self.hub.errors["internal"] += 1

    def start(self, timeout: float = 10.0) -> "MqttStream":
        try:
            self.client.connect(self.url.host, self.url.port, keepalive=30)
        except OSError as exc:
            raise ActlineError("--mqtt", f"cannot reach {self.url.host}:{self.url.port} ({exc})") from None
        self.client.loop_start()
        self.worker.start()
        if not self.connected.wait(timeout):
            self.stop()
            raise ActlineError("--mqtt", f"no connection to {self.url.host}:{self.url.port} within {timeout:.0f} s")
        return self

    def stop(self, drain_s: float = 10.0) -> None:
        """Stop taking frames, finish the queued ones (at most ``drain_s``), disconnect."""
        deadline = time.monotonic() + drain_s
        self.client.unsubscribe(self.url.pattern)
        while not self.q.empty() and time.monotonic() < deadline:
            time.sleep(0.02)
        self.stop_flag.set()
        if self.worker.is_alive():
            self.worker.join(max(0.1, deadline - time.monotonic()))
        self.client.disconnect()
        self.client.loop_stop()


def run_mqtt(recognizer, cfg, opts, on_event=None, empty_rooms=None, recorder=None) -> dict:
    """``actline stream MODEL --mqtt URL``: run until ``opts.max_seconds`` pass or Ctrl-C."""
    from actline.apps.stream.collector import FailureCollector
    from actline.apps.stream.hub import StreamHub
    from actline.apps.stream.intake import parse_shard
    from actline.apps.stream.sinks import open_sinks

    collector = FailureCollector(opts.collect, recognizer.classes) if opts.collect else None
    hub = StreamHub(recognizer, cfg, shard=parse_shard(opts.shard), state_dir=opts.state_dir, collector=collector,
                    empty_rooms=empty_rooms, recorder=recorder)
    st = follow_mqtt(hub, opts, recorder, open_sinks(opts.events, opts.webhook, on_event))
    return {**intake_summary(st), "runs": sum(v["model_runs"] for v in st["sensors"].values()),
            "events": sum(sum(v["events"].values()) for v in st["sensors"].values()),
            "collected": None, "collect_dir": None}


def intake_summary(st: dict) -> dict:
    """What a hub's ``status()`` says at the end: frames taken, sensors, refused, dropped, the recording."""
    return {"frames": sum(v["frames"] for v in st["sensors"].values()), "sensors": len(st["sensors"]),
            "refused": sum(st["errors"].values()), "dropped": st["dropped"], "recording": st.get("recording")}


def follow_mqtt(hub, opts, recorder=None, sinks=()) -> dict:
    """Feed ``hub`` (a :class:`~actline.apps.stream.intake.SensorIntake`) from ``opts.mqtt`` until
    ``opts.max_seconds`` pass or Ctrl-C, events (if any) published and sent to ``sinks``, with the status
    port of ``opts``; the recorder and sinks are closed at the end. Returns the hub's last ``status()``."""
    from actline.apps.stream.sinks import emit_all

    stream = MqttStream(hub, opts.mqtt, max_bytes=opts.queue_bytes)
    hub.emit = lambda evs: (stream.publish(evs), emit_all(sinks, evs))
    server = None
    try:
        if opts.status_port is not None:
            from actline.apps.stream.status import serve_status

            server = serve_status(hub, opts.status_host, opts.status_port)
        stream.start()
        _follow(hub, opts, recorder)
    except KeyboardInterrupt:
        pass
    finally:
        stream.stop()
        if opts.state_dir:
            hub.save_states()
        if recorder is not None:
            recorder.close()
        if server is not None:
            server.shutdown()
        for s in sinks:
            s.close()
    return hub.status()


def _follow(hub, opts, recorder) -> None:
    """The main thread while the worker streams: save states every minute, keep the recorder's time."""
    started = last_save = time.monotonic()
    while opts.max_seconds is None or time.monotonic() - started < opts.max_seconds:
        time.sleep(0.2)
        if recorder is not None:
            recorder.tick()
        if opts.state_dir and time.monotonic() - last_save > 60:
            hub.save_states()
            last_save = time.monotonic()
