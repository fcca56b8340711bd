"""docs/your-recordings.md, "Labelling in the browser": every command of the section runs, in order, as written
(the servers on a free port), on recordings named as the section names them and a model trained... at random."""

import json
import os
import re
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from actline.cli import main
from actline.data.labels.review_queue import read_items
from actline.data.thermal_h5 import write_recording_h5

from .conftest import free_port, recording

PAGE = Path(__file__).resolve().parents[3] / "docs" / "your-recordings.md"
CLASSES = ["lying", "sitting", "standing", "walking"]
TOKEN = "docs-test-token-0123456789abcdef"


def section_commands() -> list[str]:
    text = PAGE.read_text(encoding="utf-8")
    section = re.search(r"\n## Labelling in the browser\n(.*?)(?=\n## )", text, flags=re.S).group(1)
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    return [ln.strip() for b in blocks for ln in b.splitlines() if ln.strip().startswith("actline ")]


def _model(path: Path) -> None:
    import torch

    from actline.modeldir.directory import save_model_dir
    from actline.models import create_model

    torch.manual_seed(0)
    model = create_model("thermal_r2plus1d", num_classes=len(CLASSES)).eval()
    save_model_dir(path, model, {"pipeline": "clip-classifier", "arch": model.arch, "classes": CLASSES,
                                 "window": {"length": 8, "mode": "index", "fps": 10.0},
                                 "preprocessing": {"frame_shape": [40, 60]}})


def _get(url: str, headers: dict | None = None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, None


def _serve(args: list[str], check, env: dict) -> None:
    """Run ``actline label ...`` on a free port until ``check(base_url)`` has run against it."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "actline.cli", *args, "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
                break
            except OSError:
                assert proc.poll() is None, proc.communicate()[1]
                assert time.monotonic() < deadline, "actline label did not start"
                time.sleep(0.1)
        check(f"http://127.0.0.1:{port}")
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


@pytest.mark.slow  # ~10 s: two model runs and three servers
def test_every_command_of_the_section_runs(tmp_path, monkeypatch, one_thread):
    monkeypatch.chdir(tmp_path)
    Path("recordings").mkdir()
    for k, name in enumerate(("bedroom_2025-06-01", "lounge_2025-06-01")):
        r = recording(name, seed=k)
        write_recording_h5(Path("recordings") / f"{name}.h5", r.frames, np.round(r.timestamps * 1000).astype(np.int64), name)
    _model(Path("runs/my-model/model"))
    import actline

    env = {k: v for k, v in os.environ.items() if k != "ACTLINE_TOKEN"}  # this checkout's actline, from any folder
    env["PYTHONPATH"] = os.pathsep.join([str(Path(actline.__file__).parents[1]), env.get("PYTHONPATH", "")])
    commands = section_commands()
    assert [shlex.split(c)[1] for c in commands] == ["data", "label", "predict", "stream", "label", "label"]
    for command in commands:
        args = shlex.split(command)[1:]
        if args[0] != "label":
            main(args)
            continue
        if "--host" in args:  # beyond loopback: the token from the environment, the Host the other computer uses
            def check(url):
                assert _get(f"{url}/api/dataset")[0] == 401
                auth = {"Authorization": f"Bearer {TOKEN}"}
                assert _get(f"{url}/api/dataset", auth)[0] == 200
                port = url.rsplit(":", 1)[1]
                assert _get(f"{url}/api/dataset", {**auth, "Host": f"labelpc.local:{port}"})[0] == 200
                assert _get(f"{url}/api/dataset", {**auth, "Host": f"elsewhere.example:{port}"})[0] == 400
            _serve(args, check, {**env, "ACTLINE_TOKEN": TOKEN})
        elif "--review" in args:
            def check(url):
                status, review = _get(f"{url}/api/review")
                assert status == 200 and {i["source"] for i in review["items"]} >= {"uncertain"}
            _serve(args, check, env)
        else:
            def check(url):
                status, data = _get(f"{url}/api/dataset")
                assert status == 200 and data["classes"] == CLASSES and len(data["recordings"]) == 2
            _serve(args, check, env)
    items = read_items("queue")
    assert len([i for i in items if i.recording == "bedroom_2025-06-01"]) == 20  # predict --review-count 20
    assert any(i.recording == "lounge_2025-06-01" for i in items)  # stream --collect
    assert all(i.data in (None, str(Path("my-labels").resolve())) for i in items)
