"""The examples in examples/ work: the config trains, the script predicts, the publisher feeds a live stream.

Each runs as a user runs it, in a subprocess of this interpreter: `actline train --config
examples/train-config.yaml` (one epoch, on a small synthetic set), `python examples/predict.py` on
that model and on its ONNX export, and `python examples/mqtt_publisher.py` in its three payload
formats into a real Mosquitto while `actline stream --mqtt` follows the broker; the stream must get
every frame of every sensor, refuse none, see each sensor's last timestamp as published and run the
model on each. The
commands of examples/README.md must name existing commands, scripts and options.
"""

from __future__ import annotations

import json
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import mosquitto
from tests.doc_commands import actline_argv, shell_lines, subprocess_env, unknown_options
from tests.support import stream_status

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def _run(argv: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, env=subprocess_env(), capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{shlex.join(argv)} exited {proc.returncode}:\n{proc.stderr[-2000:]}"
    return proc


@pytest.fixture(scope="module")
def run(synth_dir, tmp_path_factory) -> Path:
    """A run trained with the example config, for one epoch."""
    out = tmp_path_factory.mktemp("example") / "run"
    _run(actline_argv(["actline", "train", "--config", str(EXAMPLES / "train-config.yaml"), "--data", str(synth_dir),
                       "--out", str(out), "--set", "epochs=1", "--quiet"]))
    return out


@pytest.mark.slow
def test_the_example_config_trains_and_the_run_keeps_its_settings(run):
    assert (run / "metrics.json").is_file() and (run / "model" / "config.json").is_file()
    example = yaml.safe_load((EXAMPLES / "train-config.yaml").read_text(encoding="utf-8"))
    used = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))
    assert used["epochs"] == 1  # --set overrides the file
    for key, value in example.items():
        if key == "epochs":
            continue
        want = value if isinstance(value, dict) else {None: value}
        got = used[key] if isinstance(value, dict) else {None: used[key]}
        assert all(got[k] == v for k, v in want.items()), f"{key}: the file says {value}, the run used {used[key]}"


@pytest.mark.slow
def test_the_predict_script_runs_on_a_model_and_on_its_export(run, synth_dir):
    recording = sorted((synth_dir / "frames").glob("*.h5"))[0]
    classes = json.loads((run / "model" / "config.json").read_text())["classes"]
    lines = {}
    _run(actline_argv(["actline", "export", str(run / "model")]))
    for model in (run / "model", run / "model" / "model.onnx"):
        out = _run([sys.executable, str(EXAMPLES / "predict.py"), str(model), str(recording)]).stdout.splitlines()
        rows = [re.match(r"\s*([\d.]+) s  (.+?)\s+([01]\.\d\d)$", line) for line in out]
        assert len(rows) >= 10 and all(rows), f"one line per window (start, class, probability): {out[:3]}"
        assert {r.group(2) for r in rows} <= set(classes)
        starts = [float(r.group(1)) for r in rows]
        assert starts == sorted(starts) and starts[0] == 0.0
        lines[model.name] = [r.group(2) for r in rows]
    assert lines["model"] == lines["model.onnx"], "the export predicts what the model does"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(cond, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_the_publisher_feeds_a_live_stream_in_every_payload_format(run, synth_dir, tmp_path):
    from actline.data.formats import load_recording

    recordings = sorted((synth_dir / "frames").glob("*.h5"))[:3]
    sensors = {"json": "A1", "float32": "B2", "int16": "C3"}
    with mosquitto(tmp_path) as (host, port, log):
        status_port, events = _free_port(), tmp_path / "events.jsonl"
        stream = subprocess.Popen(actline_argv(["actline", "stream", str(run / "model"), "--mqtt",
                                                f"mqtt://{host}:{port}/sensors/+/frames", "--events", str(events),
                                                "--status-port", str(status_port), "--max-seconds", "240"]),
                                  env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            _wait(lambda: " sensors/+/frames" in log.read_text(), "the stream's subscription")
            for (kind, sensor), rec in zip(sensors.items(), recordings):
                out = _run([sys.executable, str(EXAMPLES / "mqtt_publisher.py"), str(rec), "--broker",
                            f"mqtt://{host}:{port}", "--sensor", sensor, "--format", kind, "--speed", "0"]).stdout
                assert f"to sensors/{sensor}/frames ({kind})" in out
            want = {s: load_recording(r) for s, r in zip(sensors.values(), recordings)}
            st = _wait(lambda: (s := stream_status(status_port)) and all(
                s["sensors"].get(k, {}).get("frames") == r.n_frames for k, r in want.items()) and s,
                "every frame at the stream")
        finally:
            stream.send_signal(signal.SIGINT)
            stdout, stderr = stream.communicate(timeout=60)
    assert stream.returncode == 0, stderr[-2000:]
    total = sum(r.n_frames for r in want.values())
    assert f"{total} frames from 3 sensors (0 refused, 0 dropped)" in stdout
    assert st["errors"] == {}
    for sensor, rec in want.items():  # the header's timestamp field (and JSON's "t") arrive as published
        assert st["sensors"][sensor]["last_frame_t"] == pytest.approx(float(rec.timestamps[-1]), abs=1e-6)
        assert st["sensors"][sensor]["model_runs"] > 0
    # a one-epoch model is rarely sure enough to enter a state, so not every sensor has events
    assert {json.loads(x)["sensor"] for x in events.read_text().splitlines()} <= set(sensors.values())


def test_the_examples_readme_names_real_commands_scripts_and_options():
    lines = shell_lines((EXAMPLES / "README.md").read_text(encoding="utf-8"))
    assert len(lines) >= 5
    for words in lines:
        if words[0] == "actline":
            assert not unknown_options(words), f"{shlex.join(words)}: no such option(s) {unknown_options(words)}"
            continue
        assert words[0] == "python" and (ROOT / words[1]).is_file(), f"unknown command {shlex.join(words)}"
        if "mqtt_publisher" in words[1]:
            pytest.importorskip("paho.mqtt.client", reason="paho-mqtt not installed (pip install 'actline[mqtt]')")
        helptext = _run([sys.executable, str(ROOT / words[1]), "--help"]).stdout if "--" in " ".join(words) else ""
        assert all(w in helptext for w in words[2:] if w.startswith("--")), f"{shlex.join(words)}: unknown options"


@pytest.mark.slow
def test_the_example_alert_setting_goes_into_a_model_and_a_stream_takes_it(run, tmp_path):
    """examples/alerts.json: `actline alerts set` checks it against the model's classes and writes it as the model's
    alerts.json, which the stream then names as its setting; a setting naming a class the model lacks is refused."""
    import shutil

    from actline.infer.alert_settings import read_alerts, stream_setting

    model = tmp_path / "model"
    shutil.copytree(run / "model", model)
    classes = json.loads((model / "config.json").read_text())["classes"]
    _run(actline_argv(["actline", "alerts", "set", str(model), "--from", str(EXAMPLES / "alerts.json")]))
    example = json.loads((EXAMPLES / "alerts.json").read_text())
    saved = read_alerts(model, classes)
    assert saved["alerts"] == {k: float(v) for k, v in example["alerts"].items()} and saved["enter"] == example["enter"]
    assert stream_setting(model, classes)["source"].endswith("alerts.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**example, "alerts": {"dancing": 3}}))
    proc = subprocess.run(actline_argv(["actline", "alerts", "set", str(model), "--from", str(bad)]), env=subprocess_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "bad.json" in proc.stderr and "'dancing' is not a class" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert read_alerts(model, classes)["alerts"] == saved["alerts"], "a refused setting leaves the saved one"
