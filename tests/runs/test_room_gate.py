"""A CNN on raw temperatures carries its room gate through every command: the training run writes the trees
and the training rooms beside the weights, and evaluate, predict, stream, serve and export all apply it."""

import json
import shutil

import numpy as np
import pytest
from fastapi.testclient import TestClient

import actline
from actline.apps.serve import ServeConfig, create_app
from actline.cli import main
from actline.core.errors import ActlineError
from actline.data import load_dataset
from actline.models.contract import OnnxClassifier, TorchClassifier, fuse_probs
from actline.modeldir.reader import build_torch
from actline.modeldir.parts.room_gate import RoomGate

TOKEN = "test-token-0123456789abcdef"


@pytest.fixture(scope="module")
def gated_run(synth_dir, tmp_path_factory):
    """Threshold 1: every held-out recording counts as a new room, so the fusion (the static-heat fallback CNN
    with the trees) is what gets scored."""
    run = tmp_path_factory.mktemp("gate") / "run"
    main(["train", "--data", str(synth_dir), "--out", str(run), "--quiet", "--set", "background=none",
          "--set", "room_gate=1", "--set", "epochs=2", "--set", "num_threads=1"])
    return run


def test_the_run_writes_and_scores_the_gate(gated_run, synth_dir):
    model = gated_run / "model"
    cfg = json.loads((model / "config.json").read_text())
    sums = json.loads((model / "checksums.json").read_text())
    assert cfg["room_gate"]["threshold"] == 1.0 and \
        {"trees.onnx", "rooms.safetensors", "fallback.safetensors", "shape.onnx"} <= set(sums)
    assert cfg["room_gate"]["fallback"] == {"arch": cfg["arch"], "background": "static-heat"}
    assert cfg["room_gate"]["shape"] == {"background": "static-heat"}
    assert (model / "trees.onnx").read_bytes() == (gated_run / "baselines/classical/model.onnx").read_bytes()
    split = json.loads((gated_run / "split.json").read_text())
    assert cfg["room_gate"]["rooms"] == len(split["train"]["recordings"])
    m = json.loads((gated_run / "metrics.json").read_text())
    assert set(m["room_gate"]["similarity"]) == set(split["eval"]["recordings"])
    assert m["room_gate"]["fused_windows"] == m["room_gate"]["windows"] == m["n"]
    assert m["room_gate"]["fallback"] == "CNN on static-heat windows" and m["selection"]["gate_fallback"]["best_epochs"]
    assert [h.get("fallback", False) for h in json.loads((gated_run / "history.json").read_text())] == [False, True]

    # what the recognizer says in a new room is the CNN, the fallback CNN and the shape trees (both on
    # static-heat windows), fused with equal weights
    rec = actline.load(model)
    assert rec.gated and rec.room_similarity(load_dataset(synth_dir).recordings[split["eval"]["recordings"][0]].empty_room()) < 1
    ds = load_dataset(synth_dir)
    r = ds.recordings[split["eval"]["recordings"][0]]
    out = rec.predict_recording(r, stride=40, k=1)
    cnn = TorchClassifier(build_torch(model / "model.safetensors", cfg["arch"], model))
    fallback = TorchClassifier(build_torch(model / "fallback.safetensors", cfg["arch"], model))
    shape = OnnxClassifier(model / "shape.onnx")
    assert shape.config["input"] == "window-shape/1" and shape.feature_dim == 35
    c = out[0][0]
    from actline.data.window import fill_invalid, remove_background

    win = fill_invalid(r.frames[rec.rule.indices(r.timestamps, c)])[None]
    minus = lambda mode: remove_background(win[0], r.empty_room(), mode)[None]  # noqa: E731
    want = fuse_probs([cnn.probs(win), fallback.probs(minus("static-heat")), shape.probs(minus("static-heat"))],
                      [1 / 3] * 3) * np.asarray(cfg["class_guard"]["factors"])
    np.testing.assert_allclose(out[0][2].probs, (want / want.sum())[0], atol=1e-5)


@pytest.mark.slow
def test_evaluate_predict_stream_serve_and_export_apply_the_gate(gated_run, synth_dir, tmp_path, capsys):
    model = gated_run / "model"
    capsys.readouterr()
    main(["evaluate", str(model), "--data", str(synth_dir), "--json"])
    e = json.loads(capsys.readouterr().out)
    assert e["room_gate"]["fused_windows"] == e["n"]

    held = json.loads((gated_run / "split.json").read_text())["eval"]["recordings"][0]
    recording = synth_dir / "frames" / f"{held}.h5"
    main(["evaluate", str(model), "--data", str(synth_dir)])
    assert f"room gate (at 1): {e['n']} of {e['n']} windows" in " ".join(capsys.readouterr().out.split())

    main(["predict", str(model), str(recording), "--json"])
    said = capsys.readouterr()
    assert "room NEW" in said.err and "actline adapt" in said.err and said.out.startswith("{")
    events = tmp_path / "events.jsonl"
    main(["stream", str(model), "--replay", str(recording), "--speed", "0", "--events", str(events)])
    assert events.read_text().strip(), "a replayed recording produces at least one state"
    # the stream hands its running empty room to the gate, which consults the shape trees in this unfamiliar room
    from actline.apps.stream import StreamConfig, StreamingRecognizer

    live, r = actline.load(model), load_dataset(synth_dir).recordings[held]
    calls = []
    shape = live.classifier.inner.shape
    live.classifier.inner.shape = type("Spy", (), {"probs": lambda self, w, b=None: calls.append(len(w)) or shape.probs(w)})()
    sr = StreamingRecognizer(live, StreamConfig(every_frames=8, alerts={}))
    for f, t in zip(r.frames[:160], r.timestamps[:160]):
        sr.push(f, float(t))
    assert sr.runs and len(calls) == sr.runs and sr.room() is not None

    # exported outside its directory, the CNN takes its trees and rooms along and loads with its gate
    out = tmp_path / "edge" / "fall.onnx"
    main(["export", str(model), "--out", str(out)])
    assert (out.parent / "fall.trees.onnx").is_file() and (out.parent / "fall.rooms.safetensors.sha256").is_file()
    assert (out.parent / "fall.fallback.onnx.sha256").is_file() and (out.parent / "fall.shape.onnx").is_file()
    rec, onnx = actline.load(model), actline.load(out)
    assert isinstance(onnx.classifier.inner, RoomGate) and isinstance(onnx.classifier.inner.fallback, OnnxClassifier)
    assert isinstance(onnx.classifier.inner.shape, OnnxClassifier)
    ds = load_dataset(synth_dir)
    r = ds.recordings[sorted(ds.recordings)[0]]
    exact = r.frames[:200].astype(np.float64).round(2)  # two decimals keep the JSON body under the service's cap
    frames = exact.astype(np.float32)
    stamps = r.timestamps[:200] if rec.rule.mode == "time" else None
    a, b = rec.predict(frames, stamps), onnx.predict(frames, stamps)
    assert a.label == b.label and abs(a.confidence - b.confidence) < 1e-4
    # inside its directory too: model.onnx with fallback.onnx beside it, on ONNX Runtime throughout
    main(["export", str(model)])
    inside = actline.load(model, backend="onnx")
    assert isinstance(inside.classifier.inner.fallback, OnnxClassifier)
    assert abs(inside.predict(frames, stamps).confidence - a.confidence) < 1e-4
    bg = r.empty_room()
    assert rec.predict(frames, stamps, room=bg).label == onnx.predict(frames, stamps, room=bg).label

    # companions are tied to their export: another model's rooms, even with a valid checksum file, are refused
    from actline.modeldir.directory import write_sidecar
    from actline.modeldir.parts.room_gate import rooms_writer

    foreign = out.parent / "fall.rooms.safetensors"
    rooms_writer(np.ones((2, rec.frame_shape[0] * rec.frame_shape[1]), np.float32))(foreign)
    write_sidecar(foreign)
    with pytest.raises(ActlineError, match="fall.rooms.safetensors: not the rooms.safetensors that fall.onnx was exported"):
        actline.load(out)
    foreign.unlink()
    with pytest.raises(ActlineError, match="fall.rooms.safetensors: missing"):
        actline.load(out)
    main(["export", str(model), "--out", str(out)])  # whole again
    assert isinstance(actline.load(out).classifier.inner, RoomGate)
    (out.parent / "fall.fallback.onnx").unlink()
    with pytest.raises(ActlineError, match="fall.fallback.onnx: missing"):
        actline.load(out)

    app = create_app([model], ServeConfig(token=TOKEN))
    body = {"frames": exact.tolist()} | ({"timestamps": stamps.tolist()} if stamps is not None else {})
    with TestClient(app, base_url="http://127.0.0.1", headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        resp = c.post("/v1/predict", json=body)
    assert resp.status_code == 200 and resp.json()["label"] == a.label


def test_a_changed_or_missing_room_file_is_refused(gated_run, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(gated_run / "model", model)
    with open(model / "rooms.safetensors", "r+b") as f:
        f.seek(-4, 2)
        f.write(b"\0\0\0\0")
    with pytest.raises(ActlineError, match="rooms.safetensors.*checksum mismatch"):
        actline.load(model)
    (model / "rooms.safetensors").unlink()
    with pytest.raises(ActlineError, match="rooms.safetensors.*missing"):
        actline.load(model)
    shutil.copy(gated_run / "model" / "rooms.safetensors", model / "rooms.safetensors")
    (model / "fallback.safetensors").unlink()
    with pytest.raises(ActlineError, match="fallback.safetensors.*missing"):
        actline.load(model)


def test_a_bad_gate_config_or_room_file_gets_one_line(gated_run, tmp_path, monkeypatch):
    from actline.modeldir.directory import write_checksums
    from actline.modeldir.parts.room_gate import rooms_writer

    model = tmp_path / "model"
    shutil.copytree(gated_run / "model", model)
    cfg = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps({**cfg, "room_gate": {**cfg["room_gate"], "threshold": 7}}))
    write_checksums(model)
    with pytest.raises(ActlineError, match="config.json: bad 'room_gate'"):
        actline.load(model)
    for taught in (3, [-1], ["0"], [cfg["room_gate"]["rooms"]]):  # taught rooms: indices of known rooms
        (model / "config.json").write_text(json.dumps({**cfg, "room_gate": {**cfg["room_gate"], "taught": taught}}))
        write_checksums(model)
        with pytest.raises(ActlineError, match="config.json: bad 'room_gate'.*taught must be a list of indices"):
            actline.load(model)
    (model / "config.json").write_text(json.dumps(cfg))
    rooms_writer(np.zeros((2, 5), np.float32))(model / "rooms.safetensors")  # not the sensor's pixel count
    write_checksums(model)
    with pytest.raises(ActlineError, match=r"rooms.safetensors: expected finite float32 'fingerprints' of shape"):
        actline.load(model)
    shutil.copy(gated_run / "model" / "rooms.safetensors", model / "rooms.safetensors")
    write_checksums(model)
    assert actline.load(model).gated
    # a fallback that is not the CNN its config describes is refused before it is built
    gate = cfg["room_gate"]
    (model / "config.json").write_text(json.dumps({**cfg, "room_gate": {**gate, "fallback": {**gate["fallback"],
                                                                                          "background": "mean"}}}))
    write_checksums(model)
    with pytest.raises(ActlineError, match="config.json: bad 'room_gate'.*'fallback' must hold"):
        actline.load(model)
    (model / "config.json").write_text(json.dumps({**cfg, "room_gate": {**gate, "fallback": {
        **gate["fallback"], "arch": {**gate["fallback"]["arch"], "num_classes": 3}}}}))
    write_checksums(model)
    with pytest.raises(ActlineError, match="fallback.safetensors: weights do not fit"):
        actline.load(model)
    # a model directory saved before the fallback existed: the CNN itself is fused with the trees
    (model / "config.json").write_text(json.dumps({**cfg, "room_gate": {k: v for k, v in gate.items() if k != "fallback"}}))
    (model / "fallback.safetensors").unlink()
    write_checksums(model)
    old = actline.load(model).classifier.inner
    assert old.fallback is None and isinstance(old, RoomGate)
    (model / "config.json").write_text(json.dumps(cfg))
    shutil.copy(gated_run / "model" / "fallback.safetensors", model / "fallback.safetensors")
    write_checksums(model)
    # shape trees on a background the gate does not know are refused; missing ones are named; a model
    # saved before them (0.6) fuses its fallback with the trees as it did
    (model / "config.json").write_text(json.dumps({**cfg, "room_gate": {**gate, "shape": {"background": "mean"}}}))
    write_checksums(model)
    with pytest.raises(ActlineError, match="config.json: bad 'room_gate'.*unknown shape background 'mean'"):
        actline.load(model)
    (model / "config.json").write_text(json.dumps(cfg))
    (model / "shape.onnx").unlink()
    write_checksums(model)
    with pytest.raises(ActlineError, match="shape.onnx: missing: the model's room gate needs it"):
        actline.load(model)
    (model / "config.json").write_text(json.dumps({**cfg, "room_gate": {k: v for k, v in gate.items() if k != "shape"}}))
    write_checksums(model)
    old = actline.load(model).classifier.inner
    assert old.shape is None and "fused with the trees" in old.new_room_answer()
    (model / "config.json").write_text(json.dumps(cfg))
    shutil.copy(gated_run / "model" / "shape.onnx", model / "shape.onnx")
    write_checksums(model)
    monkeypatch.setattr("actline.modeldir.parts.room_gate.MAX_ROOMS_BYTES", 1000)  # the size is checked before reading
    with pytest.raises(ActlineError, match="rooms.safetensors: too large for room fingerprints"):
        actline.load(model)
