"""Resident memory of ``actline serve`` at rest, by what it is pointed at and on which backend.

Run: .venv/bin/python benchmarks/serve_memory.py [--model MODEL_DIR]

Without ``--model``, the default recipe's shape for 40x60 sensors with random weights and a room gate (as in
``benchmarks/predict_latency.py``) is saved to a temporary directory. Each row starts ``actline serve`` as a
subprocess on a free loopback port, waits for ``/healthz``, sends one prediction (so the first call's
allocations are counted), waits a second and reads the process's resident set (``VmRSS``) and its peak
(``VmHWM``) from ``/proc/PID/status``, then stops it. Rows: the model directory on PyTorch (``--backend
torch``), the same directory holding its export (the default then: ONNX, no torch imported), and the
exported ``model.onnx`` file itself.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

TOKEN = "benchmark-token-0123456789"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status(pid: int) -> dict:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024  # kB -> MB
    return out


def measure(model: Path, extra: list[str], window: np.ndarray, log: Path) -> dict:
    port = _port()
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "actline.cli", "serve", str(model), "--port", str(port), *extra],
                                env={**os.environ, "ACTLINE_TOKEN": TOKEN, "OMP_NUM_THREADS": "1"},
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        url, end = f"http://127.0.0.1:{port}", time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > end:
                    raise RuntimeError(log.read_text()[-2000:]) from None
                time.sleep(0.2)
        started = _status(proc.pid)
        body = {"frames": window[0].tolist(), "timestamps": window[1].tolist(), "recording": "bench"}
        req = urllib.request.Request(url + "/v1/predict", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(req, timeout=60) as r:
            assert r.status == 200
        with urllib.request.urlopen(urllib.request.Request(url + "/v1/model", headers={
                "Authorization": f"Bearer {TOKEN}"}), timeout=10) as r:
            backend = json.loads(r.read())["classifier"]["backend"]
        time.sleep(1.0)
        return {"backend": backend, "started": started["VmRSS"], **_status(proc.pid)}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, help="a clip-classifier model directory (default: the default recipe's "
                                               "shape with random weights and a room gate)")
    args = ap.parse_args()
    from actline.apps.onnx_export import export_model
    from actline.cli import main as cli
    from actline.data.formats import load_recording

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cli(["synth", "--out", str(tmp / "data"), "--preset", "realistic", "--recordings", "1", "--duration", "30", "--seed", "0"])
        rec = load_recording(next((tmp / "data" / "frames").glob("*.h5")))
        if args.model is None:
            from streaming import _default_model, _gated

            args.model = _gated(_default_model(tmp / "plain"), tmp / "model", rec.empty_room())
        window = (rec.frames[:120], rec.timestamps[:120])
        if not (args.model / "model.onnx").is_file():
            export_model(args.model)
        rows = {"model directory, --backend torch": measure(args.model, ["--backend", "torch"], window, tmp / "a.log"),
                "model directory (its export)": measure(args.model, [], window, tmp / "b.log"),
                "model.onnx": measure(args.model / "model.onnx", [], window, tmp / "c.log")}
    print(f"actline serve at rest after one prediction: resident memory (MB), {args.model}")
    print(f"| {'pointed at':<34} | {'runs on':<16} | {'at start':>8} | {'at rest':>8} | {'peak':>8} |")
    print(f"|{'-' * 36}|{'-' * 18}|{'-' * 10}|{'-' * 10}|{'-' * 10}|")
    for name, r in rows.items():
        print(f"| {name:<34} | {r['backend']:<16} | {r['started']:8.0f} | {r['VmRSS']:8.0f} | {r['VmHWM']:8.0f} |")


if __name__ == "__main__":
    main()
