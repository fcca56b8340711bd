"""Fuzzing the review queue's item files and the label page's request bodies: every input is refused in one
line (ActlineError, a 4xx) or accepted, never a crash or a 5xx. ``ACTLINE_FUZZ_EXAMPLES`` inputs per target."""

import json
import os

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actline.core.errors import ActlineError
from actline.data.labels import review_queue as rq

N = int(os.environ.get("ACTLINE_FUZZ_EXAMPLES", "60"))
SETTINGS = settings(max_examples=N, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
                    max_leaves=20)
FIELDS = ["format", "id", "recording", "start_s", "end_s", "top3", "source", "written_at", "data", "model", "answer",
          "answered_by", "answered_at"]


@pytest.fixture(scope="module")
def item(tmp_path_factory):
    d = tmp_path_factory.mktemp("queue")
    item_id = rq.add_item(d, np.zeros((4, 3, 3), np.float32), np.arange(4.0), recording="SL1_a", start_s=0, end_s=1,
                          top3=[["a", 0.5]], model=None, source="collect")
    return d, item_id, json.loads((d / f"{item_id}.json").read_text()), (d / f"{item_id}.npz").read_bytes()


@SETTINGS
@given(field=st.sampled_from(FIELDS), value=JSON)
def test_item_json_fields(item, field, value):
    d, item_id, good, _ = item
    (d / f"{item_id}.json").write_text(json.dumps({**good, field: value}))
    try:
        got = rq.read_item(d, item_id)
    except ActlineError as exc:
        assert "\n" not in str(exc) and f"{item_id}.json" in str(exc)
        return
    assert got.id == item_id and got.source in rq.SOURCES


@SETTINGS
@given(data=st.binary(max_size=2000), cut=st.integers(0, 2000))
def test_item_npz_bytes(item, data, cut):
    d, item_id, good, base = item
    (d / f"{item_id}.json").write_text(json.dumps(good))
    (d / f"{item_id}.npz").write_bytes(base[:cut] + data)
    try:
        rq.read_item_frames(d, item_id)
    except ActlineError as exc:
        assert "\n" not in str(exc)
    finally:
        (d / f"{item_id}.npz").write_bytes(base)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from actline.apps.label import create_label_app
    from actline.data.labels import write_labelled_dataset

    from .conftest import recording

    root = tmp_path_factory.mktemp("fuzz")
    data = write_labelled_dataset(root / "data", {"SL14_R1": recording("SL14_R1", n=40, gap_at=None)}, [], ["idle", "walk"])
    with TestClient(create_label_app(data), base_url="http://127.0.0.1") as c:
        yield c


@SETTINGS
@given(body=JSON, segments=st.lists(st.lists(JSON, max_size=4), max_size=4), version=st.booleans())
def test_save_bodies(client, body, segments, version):
    v = client.get("/api/dataset").json()["version"]
    for doc in (body, {"version": v if version else "x", "segments": {"SL14_R1": segments}}):
        r = client.post("/api/save", content=json.dumps(doc), headers={"Content-Type": "application/json"})
        assert r.status_code < 500, r.text
        if r.status_code >= 400:
            assert "\n" not in str(r.json()["detail"])
