"""The label page's API: frames in chunks, saves with a version, review answers, bad requests, caps and the token."""

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient

from actline.apps.label import create_label_app
from actline.apps.serve import ServeConfig
from actline.core.errors import ActlineError
from actline.data.labels import read_segments_csv
from actline.data.labels.review_queue import read_items
from actline.data.thermal_h5 import read_recording_h5, read_thermal_dataset

from .conftest import CLASSES

TOKEN = "a-long-enough-test-token-0123456789"
LOCAL = "http://127.0.0.1"


@pytest.fixture
def client(labelled_data, review_dir):
    with TestClient(create_label_app(labelled_data, review_dir), base_url=LOCAL) as c:
        yield c


def test_the_data_set_and_a_recording_in_chunks(client, labelled_data):
    ds = client.get("/api/dataset").json()
    assert ds["classes"] == CLASSES and ds["review"] is True and len(ds["version"]) == 64
    assert [(r["name"], r["frames"], r["segments"]) for r in ds["recordings"]] == [("SL14_R1", 200, 1), ("SL15_R2", 80, 0)]
    rec = read_recording_h5(labelled_data / "frames" / "SL14_R1.h5")
    meta = client.get("/api/recordings/SL14_R1").json()
    assert (meta["frames"], meta["height"], meta["width"]) == (200, 40, 60) and meta["t0"] == rec.timestamps[0]
    assert meta["segments"] == [[1.0, 4.0, "idle"]] and meta["vmin"] < 21 < 29 < meta["vmax"]
    times = np.frombuffer(client.get("/api/recordings/SL14_R1/times").content, "<f8")
    assert np.allclose(times, rec.timestamps - rec.timestamps[0]) and times[121] - times[120] == pytest.approx(3.0)
    r = client.get("/api/recordings/SL14_R1/frames", params={"start": 100, "count": 50})
    x = np.frombuffer(r.content, "<i2").reshape(50, 40, 60)
    assert r.headers["x-count"] == "50" and np.array_equal(x, np.round(rec.frames[100:150] * 100).astype(np.int16))
    assert (x[:, 0, 0] == -27320).all()  # the dead pixel arrives as a sentinel
    tail = client.get("/api/recordings/SL14_R1/frames", params={"start": 190, "count": 256})
    assert tail.headers["x-count"] == "10" and len(tail.content) == 10 * 40 * 60 * 2


@pytest.mark.parametrize("path, status, words", [
    ("/api/recordings/SL14_R1/frames?start=0&count=513", 400, "count <= 512"),
    ("/api/recordings/SL14_R1/frames?start=200&count=1", 400, "start < 200"),
    ("/api/recordings/SL14_R1/frames?start=x", 400, "start: Input should be a valid integer"),
    ("/api/recordings/nope", 404, "no recording"),
    ("/api/recordings/..%2F..%2Fetc%2Fpasswd/times", 404, ""),
    ("/static/../label_app.py", 404, ""),
    ("/static/secrets.txt", 404, "no file"),
    ("/api/review/not-an-id", 400, "not a review item id"),
])
def test_bad_reads_are_4xx_with_one_line(client, path, status, words):
    r = client.get(path)
    assert r.status_code == status, r.text
    detail = r.json().get("detail")
    assert words in str(detail) and (not isinstance(detail, str) or "\n" not in detail)


def _save(client, version, segments, classes=(), **kw):
    return client.post("/api/save", json={"version": version, "segments": segments, "classes": list(classes)}, **kw)


def test_a_save_is_atomic_and_a_stale_one_is_refused(client, labelled_data):
    v0 = client.get("/api/dataset").json()["version"]
    r = _save(client, v0, {"SL14_R1": [[1.0, 4.0, "idle"], [6.0, 9.5, "sit"]]}, ["sit"])
    assert r.status_code == 200, r.text
    v1 = r.json()["version"]
    assert v1 != v0 and client.get("/api/dataset").json()["classes"] == CLASSES + ["sit"]
    csv = labelled_data / "annotations" / "segments.csv"
    assert [(s.recording, s.start_s, s.end_s, s.label) for s in read_segments_csv(csv)] == \
        [("SL14_R1", 1.0, 4.0, "idle"), ("SL14_R1", 6.0, 9.5, "sit")]
    ds = read_thermal_dataset(labelled_data)
    assert "sit" in {ds.classes[s.label] for s in ds.samples if s.recording_id == "SL14_R1"}
    before = csv.read_bytes()
    stale = _save(client, v0, {"SL14_R1": [[2.0, 3.0, "walk"]]})  # a page that loaded v0
    assert stale.status_code == 409 and stale.json()["stale"] is True and "changed since it was opened" in stale.json()["detail"]
    assert csv.read_bytes() == before and client.get("/api/dataset").json()["version"] == v1
    assert _save(client, v1, {"SL14_R1": []}).status_code == 200  # an empty list clears a recording
    assert read_segments_csv(csv) == []


@pytest.mark.parametrize("body, words", [
    ({"version": "v", "segments": {"SL14_R1": [[1, 2, "idle"]]}, "x": 1}, "expected"),
    ({"version": "v", "segments": {}}, "at least one recording"),
    ({"version": "v", "segments": {"SL14_R1": [[1, 2]]}}, "[start_s, end_s, label]"),
    ({"version": "v", "segments": {"SL14_R1": [[1, "2", "idle"]]}}, "end_s must be a finite number"),
    ({"version": "v", "segments": {"SL14_R1": [[1, 2, "a\nb"]]}}, "one line"),
    ({"version": "v", "segments": {"SL14_R1": [[1, 2, "idle"]]}, "classes": "idle"}, "'classes' must be a list"),
    ("CURRENT", "overlaps"),
    ("CURRENT-UNKNOWN-CLASS", "unknown class 'dance'"),
    ("CURRENT-OUTSIDE", "outside recording"),
    ("CURRENT-UNKNOWN-RECORDING", "unknown recording 'SL99_x'"),
])
def test_bad_saves_are_400_with_one_line_and_change_nothing(client, labelled_data, body, words):
    version = client.get("/api/dataset").json()["version"]
    body = {"CURRENT": {"version": version, "segments": {"SL14_R1": [[1, 4, "idle"], [3, 5, "walk"]]}},
            "CURRENT-UNKNOWN-CLASS": {"version": version, "segments": {"SL14_R1": [[1, 4, "dance"]]}},
            "CURRENT-OUTSIDE": {"version": version, "segments": {"SL14_R1": [[1, 400, "idle"]]}},
            "CURRENT-UNKNOWN-RECORDING": {"version": version, "segments": {"SL99_x": [[1, 4, "idle"]]}}
            }.get(body, body) if isinstance(body, str) else body
    before = (labelled_data / "annotations" / "segments.csv").read_bytes()
    r = client.post("/api/save", json=body)
    assert r.status_code == 400, r.text
    assert words in r.json()["detail"] and "\n" not in r.json()["detail"]
    assert (labelled_data / "annotations" / "segments.csv").read_bytes() == before
    assert client.get("/api/dataset").json()["version"] == version


def test_bodies_are_capped_and_must_be_json_from_this_site(client):
    version = client.get("/api/dataset").json()["version"]
    huge = json.dumps({"version": version, "segments": {"SL14_R1": [[1, 2, "x" * 100]] * 100_000}})
    r = client.post("/api/save", content=huge, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "exceeds the limit" in r.json()["detail"]
    assert client.post("/api/save", content="NaN", headers={"Content-Type": "application/json"}).status_code == 400
    nan = '{"version": "%s", "segments": {"SL14_R1": [[NaN, 2, "idle"]]}}' % version
    r = client.post("/api/save", content=nan, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "finite" in r.json()["detail"]
    r = client.post("/api/save", content=b"{}", headers={"Content-Type": "text/plain"})  # a form post from any page
    assert r.status_code == 415
    r = _save(client, version, {"SL14_R1": []}, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403 and "refused" in r.json()["detail"]
    assert client.get("/api/dataset", headers={"Host": "evil.example"}).status_code == 400  # DNS rebinding


def test_a_token_is_needed_beyond_loopback(labelled_data):
    with pytest.raises(ActlineError, match="needs a token"):
        create_label_app(labelled_data, cfg=ServeConfig(host="0.0.0.0"))
    app = create_label_app(labelled_data, cfg=ServeConfig(host="0.0.0.0", token=TOKEN))
    with TestClient(app, base_url=LOCAL) as c:
        page = c.get("/")
        assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
        assert "<script src=\"/static/app.js\">" in page.text and "http" not in page.text.split("<body>")[1]
        assert c.get("/static/player.js").status_code == 200  # the page's code holds no data
        assert c.get("/api/dataset").status_code == 401
        assert c.get("/api/recordings/SL14_R1/frames", headers={"Authorization": "Bearer wrong"}).status_code == 401
        auth = {"Authorization": f"Bearer {TOKEN}"}
        version = c.get("/api/dataset", headers=auth).json()["version"]
        assert _save(c, version, {"SL14_R1": []}).status_code == 401
        assert _save(c, version, {"SL14_R1": []}, headers=auth).status_code == 200


def test_review_answers_become_recordings_and_segments(client, labelled_data, review_dir):
    items = client.get("/api/review").json()["items"]
    assert [i["top3"][0][0] for i in items] == ["walk", "fall"]
    meta = client.get(f"/api/review/{items[0]['id']}").json()
    assert (meta["frames"], meta["height"], meta["width"]) == (24, 16, 16) and meta["times"][0] == 0.0
    assert meta["recording"] == f"SL20_bed0_{items[0]['id']}"
    frames = np.frombuffer(client.get(f"/api/review/{items[0]['id']}/frames").content, "<i2")
    assert frames.size == 24 * 16 * 16
    v0 = client.get("/api/dataset").json()["version"]
    r = client.post(f"/api/review/{items[0]['id']}/answer", json={"label": "walk", "who": "ana"})
    assert r.status_code == 200, r.text
    assert r.json()["previous"] == v0 and r.json()["version"] == client.get("/api/dataset").json()["version"]
    r2 = client.post(f"/api/review/{items[1]['id']}/answer", json={"label": "lie"})  # a correction to a new class
    assert r2.status_code == 200, r2.text
    again = client.post(f"/api/review/{items[0]['id']}/answer", json={"label": "idle"})
    assert again.status_code == 400 and "already answered" in again.json()["detail"]
    done = {i.id: (i.answer, i.answered_by) for i in read_items(review_dir, answered=True)}
    assert done[items[0]["id"]] == ("walk", "ana") and done[items[1]["id"]][0] == "lie"
    segs = {s.recording: s for s in read_segments_csv(labelled_data / "annotations" / "segments.csv")}
    new = segs[meta["recording"]]
    assert (new.label, new.start_s) == ("walk", 0.0) and new.end_s > meta["times"][-1]
    ds = read_thermal_dataset(labelled_data)
    assert ds.classes[-1] == "lie" and ds.recordings[meta["recording"]].group == "SL20"
    assert {ds.classes[s.label] for s in ds.samples if s.recording_id == meta["recording"]} == {"walk"}
    assert client.post(f"/api/review/{items[0]['id']}/answer", content=b"x",
                       headers={"Content-Type": "application/json"}).status_code == 400


def test_without_a_queue_the_review_api_is_404(labelled_data):
    with TestClient(create_label_app(labelled_data), base_url=LOCAL) as c:
        r = c.get("/api/review")
        assert r.status_code == 404 and "--review" in r.json()["detail"]
        assert c.get("/api/dataset").json()["review"] is False


def test_a_data_set_with_keyframes_only_opens_and_its_first_save_writes_segments(synth_dir, tmp_path):
    import shutil

    data = shutil.copytree(synth_dir, tmp_path / "synth")  # actline synth: keyframes, no segments.csv
    assert not (data / "annotations" / "segments.csv").exists()
    with TestClient(create_label_app(data), base_url=LOCAL) as c:
        ds = c.get("/api/dataset").json()
        name = ds["recordings"][0]["name"]
        meta = c.get(f"/api/recordings/{name}").json()
        assert meta["segments"] and all(s[1] > s[0] for s in meta["segments"])  # runs of keyframes
        assert _save(c, ds["version"], {name: meta["segments"][:1]}).status_code == 200
    segs = read_segments_csv(data / "annotations" / "segments.csv")
    assert [s for s in segs if s.recording == name] == [
        type(segs[0])(name, *meta["segments"][0][:2], meta["segments"][0][2])]
    assert {s.recording for s in segs} == {r["name"] for r in ds["recordings"]}  # the others' segments kept
