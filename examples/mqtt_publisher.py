"""Publish a recording's frames to an MQTT broker, one message per frame, as a ceiling sensor does.

    python examples/mqtt_publisher.py runs/demo/data/frames/SL23_R3.h5 --broker mqtt://localhost:1883
    python examples/mqtt_publisher.py REC.h5 --format int16 --speed 0   # binary, as fast as possible

`actline stream MODEL --mqtt mqtt://localhost:1883/sensors/+/frames` follows what it publishes.
Topic: `sensors/<sensor id>/frames` (the recording's name unless --sensor), QoS 1. Payloads, as the
streaming docs ("Frame payloads") describe them:

- json:    {"t": seconds, "frame": [[°C, ...], ...]}
- float32: a 20-byte little-endian header, then the pixels row by row as float32 °C
- int16:   the same header, then int16 centi-degrees (°C x 100): half the bytes

The header is written field by field below, so a gateway in another language can copy it. With
actline installed, `actline.apps.stream.payloads.encode_json` / `encode_binary` build the same bytes.
A broker with a user: `--broker mqtts://user@host:8883` and the password in $ACTLINE_MQTT_PASSWORD.
Needs paho-mqtt (`pip install 'actline[mqtt]'`).
"""

import argparse
import json
import os
import struct
import sys
import time
from urllib.parse import urlsplit

import numpy as np
import paho.mqtt.client as mqtt

from actline.data.formats import load_recording

MAGIC, VERSION, FLOAT32, INT16 = b"ACTF", 1, 1, 2


def payload(frame: np.ndarray, t: float, kind: str) -> bytes:
    if kind == "json":
        return json.dumps({"t": t, "frame": np.round(frame, 2).tolist()}).encode()
    h, w = frame.shape
    dtype = FLOAT32 if kind == "float32" else INT16
    # magic, version, dtype, height, width, reserved (0), timestamp in seconds (float64): 20 bytes, little-endian
    header = struct.pack("<4sBBHHHd", MAGIC, VERSION, dtype, h, w, 0, t)
    if dtype == FLOAT32:
        pixels = frame.astype("<f4")
    else:
        pixels = np.clip(np.round(frame * 100), -32768, 32767).astype("<i2")
    return header + pixels.tobytes()


def connect(broker: str) -> mqtt.Client:
    url = urlsplit(broker)
    if url.scheme not in ("mqtt", "mqtts") or not url.hostname:
        sys.exit(f"--broker: expected mqtt://[user@]host:port or mqtts://..., got {broker!r}")
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    if url.username:
        client.username_pw_set(url.username, os.environ.get("ACTLINE_MQTT_PASSWORD"))
    if url.scheme == "mqtts":
        client.tls_set()  # verified against the system's CA certificates
    try:
        client.connect(url.hostname, url.port or (8883 if url.scheme == "mqtts" else 1883))
    except OSError as exc:
        sys.exit(f"cannot reach the broker at {url.hostname}:{url.port}: {exc}")
    client.loop_start()
    return client


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("recording", help="a ThermalDataGen .h5 file or a Nagoya .csv/.csv.gz")
    ap.add_argument("--broker", default="mqtt://localhost:1883", help="mqtt[s]://[user@]host:port")
    ap.add_argument("--sensor", help="sensor id (default: the recording's name)")
    ap.add_argument("--topic", default="sensors/{sensor}/frames", help="topic, {sensor} replaced by the id")
    ap.add_argument("--format", choices=("json", "float32", "int16"), default="json")
    ap.add_argument("--speed", type=float, default=1.0, help="1: the recording's own pace; 0: as fast as possible")
    args = ap.parse_args(argv)
    rec = load_recording(args.recording)
    topic = args.topic.format(sensor=args.sensor or rec.id)
    client = connect(args.broker)
    start, t0 = time.monotonic(), float(rec.timestamps[0])
    sent = []
    for frame, t in zip(rec.frames, rec.timestamps):
        if args.speed > 0:  # wait for the frame's moment, as the sensor would
            time.sleep(max(0.0, (float(t) - t0) / args.speed - (time.monotonic() - start)))
        sent.append(client.publish(topic, payload(frame, float(t), args.format), qos=1))
    for info in sent:
        info.wait_for_publish(30)
    client.disconnect()
    client.loop_stop()
    print(f"published {len(sent)} frames to {topic} ({args.format})")


if __name__ == "__main__":
    main()
