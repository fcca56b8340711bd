"""One 40x60 window: how long ``actline.load(MODEL).predict`` and ``POST /v1/predict`` take, beside the bare network.

Run: .venv/bin/python benchmarks/predict_latency.py [--model MODEL_DIR] [--recording FILE] [--repeats 50]

Without ``--model``, the default recipe's shape for 40x60 sensors with random weights (thermal_r2plus1d_lite on
8-s windows resampled at 4 steps/s, raw temperatures, behind a room gate whose trees, shape trees and fallback CNN are
those of ``benchmarks/streaming.py --gate``) is saved and exported to a temporary directory; without
``--recording``, one synthetic recording of the realistic preset is written there. One thread (torch and
ONNX Runtime), on ONNX Runtime (the directory's export, made if missing) and on PyTorch.

Rows, each the median (and 90th percentile) over ``--repeats`` windows around different keyframes:

- ``network``: the main network alone on the window it takes, already cut (the baseline);
- ``predict, room known``: ``Recognizer.predict(frames, timestamps, room=room)`` on the 320 frames around
  the keyframe, the recording's room estimated before (``Recognizer.estimate_room``): every call after a
  recording's first;
- ``predict, first call``: the same without ``room``: the room is estimated from those frames;
- ``/v1/predict, room kept`` and ``first call``: the service in this process (FastAPI's TestClient), a JSON
  body of the frames the window spans with their timestamps (encoded beforehand; decoding it is part of the
  figure) and a recording id (``?recording=``) whose room is kept from the previous request, or new each time.

With a model that has a room gate, the ``room known`` rows run in a room like the training rooms (the
network alone answers) and, marked ``unfamiliar``, in one unlike them (the fallback CNN and the shape trees run too).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import actline
from actline.apps.model_backend import resolve
from actline.data.rooms import KnownRooms
from actline.modeldir.parts.room_gate import room_gate_of

SPAN = 320  # frames around the keyframe handed to predict (what `actline predict` hands it)
TOKEN = "benchmark-token-0123456789"


def _timed(fn, repeats: int, args: list) -> tuple[float, float]:
    fn(*args[0])  # warm-up: first-call allocations are not what a service sees
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        fn(*args[i % len(args)])
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3, float(np.percentile(times, 90)) * 1e3


def _windows(rec, r, repeats: int) -> list[tuple]:
    """(frames, timestamps, window frames, window timestamps, cut window) around ``repeats`` keyframes."""
    n, out = rec.n_frames, []
    half = r.rule.seconds / 2 if r.rule.mode == "time" else None
    for c in np.linspace(SPAN // 2, n - SPAN // 2 - 1, repeats).round().astype(int):
        f, ts = rec.frames[c - SPAN // 2:c + SPAN // 2], rec.timestamps[c - SPAN // 2:c + SPAN // 2]
        if half is None:
            keep = slice(SPAN // 2 - r.rule.length // 2, SPAN // 2 - r.rule.length // 2 + r.rule.length)
        else:
            t = ts[SPAN // 2]
            keep = slice(int(np.searchsorted(ts, t - half - 0.5)), int(np.searchsorted(ts, t + half + 0.5)))
        out.append((f, ts, f[keep], ts[keep], r.window(f, ts, room=rec.empty_room())))
    return out


def _service_rows(model: Path, backend: str, r, wins: list, repeats: int) -> dict:
    import json

    from fastapi.testclient import TestClient

    from actline.apps.serve import ServeConfig, create_app

    # the bodies are encoded before the clock starts (what a client does is not the service's time); the
    # recording id rides in the query
    encoded = [json.dumps({"frames": w[2].tolist(), "timestamps": w[3].tolist()}).encode() for w in wins]
    counter = iter(range(10 ** 9))
    with TestClient(create_app([model], ServeConfig(token=TOKEN, backend=backend, timeout_s=120)),
                    base_url="http://127.0.0.1", headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        c.app.state.service.recognizer = r  # the same recognizer (one thread, the same room gate) as the library rows

        def post(i, recording):
            resp = c.post(f"/v1/predict?recording={recording}", content=encoded[i],
                          headers={"content-type": "application/json"})
            assert resp.status_code == 200, resp.text
            return resp

        assert post(0, "kept").json()["room"] == "estimated" and post(0, "kept").json()["room"] == "kept"
        kept = _timed(post, repeats, [(i, "kept") for i in range(len(wins))])
        first = _timed(lambda i: post(i, f"new-{next(counter)}"), repeats, [(i,) for i in range(len(wins))])
    return {"/v1/predict, room kept": kept, "/v1/predict, first call": first}


def measure(model: Path, rec, backend: str, repeats: int) -> dict:
    path, chosen = resolve(model, backend)
    r = actline.load(path, backend=chosen, threads=1)
    wins = _windows(rec, r, repeats)
    room = r.estimate_room(rec.frames[:SPAN]) if r.needs_room else None
    net = r.classifier
    while net.__dict__.get("inner") is not None:  # the main network under the gate and the guard
        net = net.__dict__["inner"]
    rows = {"network": _timed(lambda w: net.probs(w[None]), repeats, [(w[4],) for w in wins])}
    gate = room_gate_of(r.classifier)
    saved = None if gate is None else gate.known
    if gate is not None:
        gate.known = KnownRooms(room[None])  # a familiar room: the network alone answers
    rows["predict, room known"] = _timed(lambda f, ts: r.predict(f, ts, room=room), repeats, [w[:2] for w in wins])
    if gate is not None:
        gate.known = KnownRooms(np.tile(np.linspace(15, 30, room.shape[1], dtype=np.float32),
                                        (room.shape[0], 1))[None])  # unlike it: fallback and shape trees
        rows["predict, room known, unfamiliar"] = _timed(lambda f, ts: r.predict(f, ts, room=room), repeats,
                                                         [w[:2] for w in wins])
        gate.known = KnownRooms(room[None])
    rows["predict, first call"] = _timed(lambda f, ts: r.predict(f, ts), repeats, [w[:2] for w in wins])
    rows.update(_service_rows(model, backend, r, wins, repeats))
    if gate is not None:
        gate.known = saved
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, help="a clip-classifier model directory (default: the default recipe's "
                                               "shape with random weights and a room gate)")
    ap.add_argument("--recording", type=Path, help="a 40x60 recording (default: a synthetic one, realistic preset)")
    ap.add_argument("--repeats", type=int, default=50)
    args = ap.parse_args()
    torch.set_num_threads(1)
    from actline.cli import main as cli
    from actline.data.formats import load_recording

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.recording is None:
            cli(["synth", "--out", str(tmp / "data"), "--preset", "realistic", "--recordings", "1", "--duration", "120",
                 "--seed", "0"])
            args.recording = next((tmp / "data" / "frames").glob("*.h5"))
        rec = load_recording(args.recording)
        if args.model is None:
            from streaming import _default_model, _gated

            args.model = _gated(_default_model(tmp / "plain"), tmp / "model", rec.empty_room())
        results = {b: measure(args.model, rec, b, args.repeats) for b in ("onnx", "torch")}
    print(f"one window of {args.model} ({SPAN} frames to predict, the window's own frames to /v1/predict), "
          f"1 thread, {args.repeats} windows; median (p90) ms")
    print(f"| {'path':<36} | {'ONNX Runtime':>16} | {'PyTorch':>16} |")
    print(f"|{'-' * 38}|{'-' * 18}|{'-' * 18}|")
    for row in results["onnx"]:
        cells = [f"{results[b][row][0]:7.2f} ({results[b][row][1]:6.2f})" for b in ("onnx", "torch")]
        print(f"| {row:<36} | {cells[0]:>16} | {cells[1]:>16} |")


if __name__ == "__main__":
    main()
