"""Every command the docs give for recording, empty rooms and the intake queue, run against a real Mosquitto with
synthetic sensors publishing: ``MODEL`` (where a command gives one) is a small model, ``localhost:1883`` the test's broker, and each command
runs for a few seconds (``--max-seconds``) in a fresh folder."""

from __future__ import annotations

import json
import re
import shlex
import socket
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from actline.apps.stream.payloads import encode_binary
from actline.data.thermal_h5 import read_recording_h5, write_recording_h5

from .test_mqtt import _client

DOCS = Path(__file__).resolve().parents[3] / "docs"
SENSORS = ("SL14_R9", "SL15_R2", "SL15")
T0, DT = 1_765_000_000.0, 0.1


def documented(page: str, only: tuple[str, ...] = ()) -> list[str]:
    """The ``actline`` commands of a page's bash blocks (continuation lines joined), those naming an option of ``only``."""
    text = (DOCS / page).read_text(encoding="utf-8")
    cmds = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("actline ") and (not only or any(o in line for o in only)):
                cmds.append(line)
    return cmds


COMMANDS = documented("your-recordings.md", ("--mqtt",)) + documented("streaming.md", ("--record", "--empty-room", "--queue-bytes"))


def frame(sensor: str, i: int) -> np.ndarray:
    return (20 + SENSORS.index(sensor) + np.random.default_rng([SENSORS.index(sensor), i + 10]).normal(0, 0.3, (16, 16))
            ).astype(np.float32)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_docs_give_commands_to_run():
    assert len(COMMANDS) >= 3 and all("localhost:1883" in c for c in COMMANDS)
    first = documented("your-recordings.md", ("--mqtt",))[0]
    assert "--record" in first and "MODEL" not in first  # recording starts without a model


@pytest.mark.parametrize("command", COMMANDS, ids=[f"cmd{i}" for i in range(len(COMMANDS))])
def test_a_documented_command_runs_against_a_real_broker(command, broker, small_onnx_model, tmp_path, monkeypatch,
                                                          capsys):
    from actline.cli import main

    host, port = broker
    monkeypatch.chdir(tmp_path)
    status = _free_port()
    argv = [{"MODEL": str(small_onnx_model), "9108": str(status)}.get(a, a) for a in shlex.split(command)[1:]]
    argv = [a.replace("localhost:1883", f"{host}:{port}") for a in argv] + ["--max-seconds", "4"]
    for s in SENSORS[:2]:  # the empty rooms the page's folder holds
        write_recording_h5(Path("rooms") / f"{s}.h5", np.stack([frame(s, -1)] * 20), 1_700_000_000_000 + np.arange(20) * 100, s)
    Path("rooms-extra").mkdir()
    np.savez("rooms-extra/hall.npz", frames=np.stack([frame("SL15", -1)] * 20), timestamps=np.arange(20) / 10)
    runner = threading.Thread(target=main, args=(argv,))
    runner.start()
    pub, sent, seen = _client(host, port, "docs-pub"), 0, {}
    while runner.is_alive():
        for s in SENSORS:
            pub.publish(f"sensors/{s}/frames", encode_binary(frame(s, sent), T0 + sent * DT), qos=1)
        sent += 1
        if "--status-port" in argv and sent % 20 == 0:
            try:
                seen = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{status}/status", timeout=1).read())
            except OSError:
                pass
        time.sleep(0.02)
    pub.disconnect()
    pub.loop_stop()
    summary = capsys.readouterr().out
    assert re.search(r"from 3 sensors \(0 refused, 0 dropped\)", summary), summary
    if "--status-port" in argv:
        assert set(seen["sensors"]) == set(SENSORS) and not seen["errors"] and seen["dropped"] == {}
    if "--record" in argv:
        for s in SENSORS:
            recs = [read_recording_h5(p) for p in sorted(Path("recordings/frames").glob(f"{s}_2025*.h5"))]
            idx = np.concatenate([np.round((r.timestamps - T0) / DT).astype(int) for r in recs])
            assert len(idx) > 20 and np.array_equal(idx, np.arange(idx[0], idx[0] + len(idx)))  # none lost
            np.testing.assert_array_equal(np.concatenate([r.frames for r in recs]), np.stack([frame(s, i) for i in idx]))
        n = len(list(Path("recordings/frames").iterdir()))
        assert f"in {n} files under recordings/frames" in summary and "recording stopped" not in summary
