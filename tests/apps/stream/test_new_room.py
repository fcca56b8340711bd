"""A model with a room gate says when a room is new to it: predict (stderr and --json), the service's
prediction responses, and a live stream (/status and one log line), each with how to teach it the room."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

import actline
from actline.data.thermal_h5 import read_recording_h5
from tests.support import gated_model_dir


def _room(seed: int) -> np.ndarray:
    """An empty room with a lamp of its own, away from where the recording's person walks (rows 4-12, columns
    3-15)."""
    r = np.random.default_rng(seed)
    img = np.full((16, 16), 20.0, np.float32) + r.normal(0, 0.05, (16, 16)).astype(np.float32)
    y, x = [(13, 1), (1, 1), (13, 12), (1, 13)][seed % 4]
    img[y:y + 2, x:x + 2] += 10
    return img


@pytest.fixture(scope="module")
def models(small_model_and_recording, tmp_path_factory):
    """The same network behind two gates: one that knows the recording's room, one that knows others only."""
    cnn, rec_path = small_model_and_recording
    rec = read_recording_h5(rec_path)
    root = tmp_path_factory.mktemp("new-room")
    known = gated_model_dir(cnn, root / "known", np.stack([rec.empty_room(), _room(1), _room(2)]))
    other = gated_model_dir(cnn, root / "other", np.stack([_room(1), _room(2), _room(3)]))
    return known, other, rec_path


def test_the_recognizer_reports_a_new_room(models):
    known, other, rec_path = models
    rec = read_recording_h5(rec_path)
    familiar = actline.load(known).room_report(rec.empty_room())
    new = actline.load(other).room_report(rec.empty_room())
    assert familiar["new"] is False and familiar["similarity"] > 0.9 and "advice" not in familiar
    assert new["new"] is True and new["similarity"] < new["new_below"] == 0.5 and "actline adapt" in new["advice"]


def test_predict_says_so_on_stderr_and_in_its_json(models, capsys):
    from actline.cli import main

    known, other, rec_path = models
    main(["predict", str(other), str(rec_path), "--json", "--stride", "40"])
    got = capsys.readouterr()
    lines = [json.loads(x) for x in got.out.splitlines()]
    assert lines and all(x["new_room"] is True and x["room_similarity"] < 0.5 for x in lines)
    assert "room NEW" in got.err and "actline adapt" in got.err
    main(["predict", str(known), str(rec_path), "--json", "--stride", "40"])
    got = capsys.readouterr()
    assert all(json.loads(x)["new_room"] is False for x in got.out.splitlines()) and "room familiar" in got.err


def test_the_service_answers_with_it(models):
    from fastapi.testclient import TestClient

    from actline.apps.serve import create_app

    _, other, rec_path = models
    rec = read_recording_h5(rec_path)
    with TestClient(create_app([other]), base_url="http://127.0.0.1") as client:
        r = client.post("/v1/predict", json={"frames": rec.frames[:8].tolist(), "recording": "bedroom"})
    assert r.status_code == 200 and r.json()["new_room"] is True and "actline adapt" in r.json()["advice"]


@pytest.mark.slow  # about 20 s: a 30-s recording streamed twice
def test_a_stream_says_so_once_and_in_its_status(models, caplog):
    from actline.apps.stream.hub import StreamHub
    from actline.infer.stream_config import StreamConfig

    _, other, rec_path = models
    rec = read_recording_h5(rec_path)
    hub = StreamHub(actline.load(other), StreamConfig())
    with caplog.at_level(logging.WARNING, logger="actline.stream"):
        for i in range(200):
            hub.process([("SL14", float(rec.timestamps[i]), rec.frames[i])])
    room = hub.status()["sensors"]["SL14"]["room"]
    assert room["new"] is True and room["similarity"] < 0.5
    said = [r for r in caplog.records if "new room" in r.getMessage()]
    assert len(said) == 1 and "SL14" in said[0].getMessage() and "actline adapt" in said[0].getMessage()
