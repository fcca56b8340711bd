"""The window-statistics model (`--model features`) and `--model auto` are models like any other:
they train, evaluate on new data, predict, stream, serve and export through the same commands."""

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient

import actline
from actline.apps.serve import ServeConfig, create_app
from actline.cli import main
from actline.data import load_dataset

TOKEN = "test-token-0123456789abcdef"


@pytest.fixture(scope="module")
def features_run(synth_dir, tmp_path_factory):
    run = tmp_path_factory.mktemp("features") / "run"
    main(["train", "--data", str(synth_dir), "--out", str(run), "--model", "features", "--quiet"])
    return run


def _recording(data):
    return sorted((data / "frames").glob("*.h5"))[0]


@pytest.mark.slow
def test_features_model_through_every_command(features_run, synth_dir, tmp_path, capsys):
    model = features_run / "model"
    cfg = json.loads((model / "config.json").read_text())
    assert cfg["arch"]["name"] == "features" and (model / "model.onnx").is_file()
    assert not list(model.glob("*.pt")) and not list(model.glob("*.pkl"))  # nothing to unpickle

    capsys.readouterr()
    main(["evaluate", str(model), "--data", str(synth_dir), "--json"])
    e = json.loads(capsys.readouterr().out)
    assert e["n"] > 0 and set(e["baselines"]) >= {"majority", "classical"}

    main(["predict", str(model), str(_recording(synth_dir)), "--json"])
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert lines and all(x["label"] in cfg["classes"] for x in lines)

    events = tmp_path / "events.jsonl"
    main(["stream", str(model), "--replay", str(_recording(synth_dir)), "--speed", "0", "--events", str(events)])
    assert events.read_text().strip(), "a replayed recording produces at least one state"

    main(["export", str(model)])
    rec, onnx = actline.load(model), actline.load(model / "model.onnx")
    ds = load_dataset(synth_dir)
    r = ds.recordings[sorted(ds.recordings)[0]]
    spec = rec.rule
    exact = r.frames[: 200].astype(np.float64).round(2)  # two decimals keep the JSON body under the service's cap
    frames = exact.astype(np.float32)
    stamps = r.timestamps[: 200] if spec.mode == "time" else None
    a, b = rec.predict(frames, stamps), onnx.predict(frames, stamps)
    assert a.label == b.label and abs(a.confidence - b.confidence) < 1e-4

    app = create_app([model], ServeConfig(token=TOKEN))
    body = {"frames": exact.tolist()} | ({"timestamps": stamps.tolist()} if stamps is not None else {})
    assert len(json.dumps(body)) < 8 * 2**20
    with TestClient(app, base_url="http://127.0.0.1", headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        resp = c.post("/v1/predict", json=body)
    assert resp.status_code == 200 and resp.json()["label"] == a.label


@pytest.mark.slow
def test_auto_records_what_it_tried_and_why(synth_dir, tmp_path, one_thread):
    run = tmp_path / "auto"
    main(["train", "--data", str(synth_dir), "--out", str(run), "--model", "auto", "--quiet",
          "--set", "epochs=2", "--set", "num_threads=1"])
    m = json.loads((run / "metrics.json").read_text())
    auto = m["selection"]["auto"]
    assert set(auto["scores"]) == set(auto["candidates"]) and auto["winner"] in auto["candidates"]
    # the winner is chosen on training recordings only: none of the inner validation is held out
    split = json.loads((run / "split.json").read_text())
    assert split["eval"]["recordings"] and not set(split["eval"]["recordings"]) & set(auto["inner_val_recordings"])
    assert actline.load(run / "model").classes == load_dataset(synth_dir).classes
