"""``/v1/predict`` with a recording id: that recording's empty room is estimated once and kept."""

import io

import numpy as np
import pytest
from fastapi.testclient import TestClient

from actline.apps.serve import ServeConfig, create_app
from actline.infer import Recognizer
from tests.infer.test_room_cache import room_model  # noqa: F401  (the fixture: a model that reads the room)

TOKEN = "test-token-0123456789abcdef"


def _frames(seed: int, warm: float) -> np.ndarray:
    frames = np.random.default_rng(seed).normal(21, 0.3, (40, 16, 16)).astype(np.float32)
    frames[:, 2:6, 2:6] += warm  # a heater: static heat the model removes
    return frames


def test_a_recording_keeps_its_room_between_requests(room_model):  # noqa: F811
    r = Recognizer.load(room_model)
    first, second = _frames(0, 16.0), _frames(1, 0.0)
    with TestClient(create_app([room_model], ServeConfig(token=TOKEN, room_cache=2)), base_url="http://127.0.0.1",
                    headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        a = c.post("/v1/predict", json={"frames": first.tolist(), "recording": "SL1_bed"}).json()
        assert a["recording"] == "SL1_bed" and a["room"] == "estimated"
        buf = io.BytesIO()
        np.save(buf, second)
        b = c.post("/v1/predict?recording=SL1_bed", content=buf.getvalue(),
                   headers={"content-type": "application/octet-stream"}).json()
        assert b["room"] == "kept"
        # the second window was cut with the first window's room, not its own
        kept = r.predict(second, room=r.estimate_room(first)).to_dict()
        own = r.predict(second).to_dict()
        assert b["topk"] == kept["topk"] and b["topk"] != own["topk"]
        plain = c.post("/v1/predict", json={"frames": second.tolist()}).json()
        assert plain == own and "room" not in plain  # no id: estimated from the window, as before
        for rec in ("SL2", "SL3"):
            c.post("/v1/predict", json={"frames": first.tolist(), "recording": rec})
        assert "actline_rooms_kept 2.0" in c.get("/metrics").text  # bounded: SL1_bed was dropped
        again = c.post("/v1/predict", json={"frames": first.tolist(), "recording": "SL1_bed"}).json()
        assert again["room"] == "estimated"


@pytest.mark.parametrize("bad", ["", "a" * 129, "sensor one", "../etc", 7])
def test_a_bad_recording_id_is_refused_in_one_line(room_model, bad):  # noqa: F811
    with TestClient(create_app([room_model], ServeConfig()), base_url="http://127.0.0.1") as c:
        resp = c.post("/v1/predict", json={"frames": _frames(0, 0).tolist(), "recording": bad})
        assert resp.status_code == 400 and "'recording' must be" in resp.json()["detail"]
        resp = c.post(f"/v1/predict?recording={'x' * 200}", content=b"\x93NUMPY",
                      headers={"content-type": "application/octet-stream"})
        assert resp.status_code == 400
