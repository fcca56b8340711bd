"""A real, running Label Studio (the release ``make label-studio`` installs into .venv-ls, the one the docs name):
it accepts the labelling config ``actline data render`` writes, takes the videos both ways the docs describe
(uploaded, and served from a local-files storage through ``label-studio-tasks.json``), stores timeline labels,
and its own JSON export, read by ``actline data import``, gives back the labelled segments to the frame.

The annotations are posted through Label Studio's API in the form its video timeline writes (results of type
``timelinelabels``, frames counted from 1); what Label Studio stores and exports from them is its own.
Label Studio starts in about 4 s from the database ``make label-studio`` prepares (30 s without it, creating its
database); the module is marked slow."""

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from actline.cli import main
from actline.data.labels import read_segments_csv
from actline.data.recordings.recording_files import read_frames_folder
from actline.data.synth.thermal_set import SynthConfig, generate_thermal_dataset
from actline.data.thermal_h5 import read_thermal_dataset
from tests.data.test_label_import import frame_labels, known_segments, video_runs

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
LABEL_STUDIO = Path(os.environ.get("ACTLINE_LABEL_STUDIO", REPO / ".venv-ls" / "bin" / "label-studio"))
USER, PASSWORD = "labeller@example.com", "not-a-real-secret-42"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return generate_thermal_dataset(tmp_path_factory.mktemp("synth") / "d",
                                    SynthConfig(preset="realistic", n_recordings=2, duration_s=20.0, seed=3))


@pytest.fixture(scope="module")
def videos(data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("served") / "videos"
    main(["data", "render", "--data", str(data), "--out", str(out), "--video-fps", "12", "--quiet"])
    return out


@pytest.fixture(scope="module")
def server(videos, tmp_path_factory):
    """Label Studio on a free loopback port, its database in a temporary folder, the videos' parent folder
    served as local files; yields its base URL."""
    if not LABEL_STUDIO.exists():
        pytest.skip(f"Label Studio is not installed at {LABEL_STUDIO} (`make label-studio` installs it)")
    home = tmp_path_factory.mktemp("label-studio")
    template = LABEL_STUDIO.parents[1] / "base" / "label_studio.sqlite3"  # made by `make label-studio`
    if template.is_file():  # its migrations already run: the server starts in seconds, not half a minute
        shutil.copy(template, home / template.name)
    port = _free_port()
    env = {**os.environ, "LABEL_STUDIO_BASE_DATA_DIR": str(home), "LABEL_STUDIO_USERNAME": USER,
           "LABEL_STUDIO_PASSWORD": PASSWORD, "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "true",
           "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": str(videos.parent), "SENTRY_DSN": "", "FRONTEND_SENTRY_DSN": ""}
    with open(home / "server.log", "wb") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen([str(LABEL_STUDIO), "start", "--no-browser", "--host", "127.0.0.1", "--port",
                                 str(port)], env=env, cwd=home, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if requests.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (home / "server.log").read_text(errors="replace")[-1500:]
                pytest.fail(f"Label Studio did not start (exit {proc.poll()}):\n{tail}")
            time.sleep(1)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def api(server) -> requests.Session:
    """A session holding a personal access token, got as a user would: log in, create the token, refresh it."""
    web = requests.Session()
    web.get(f"{server}/user/login/", timeout=10)
    r = web.post(f"{server}/user/login/", data={"email": USER, "password": PASSWORD,
                                                "csrfmiddlewaretoken": web.cookies["csrftoken"]},
                 headers={"Referer": f"{server}/user/login/"}, allow_redirects=False, timeout=10)
    assert r.status_code == 302, r.text[:300]
    r = web.post(f"{server}/api/token/", headers={"X-CSRFToken": web.cookies["csrftoken"], "Referer": server}, timeout=10)
    assert r.status_code == 201, r.text[:300]
    access = requests.post(f"{server}/api/token/refresh/", json={"refresh": r.json()["token"]}, timeout=10)
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {access.json()['access']}"
    s.base = server
    return s


def _ok(r: requests.Response, *codes: int) -> dict | list:
    assert r.status_code in (codes or (200, 201)), f"{r.request.method} {r.url}: {r.status_code} {r.text[:400]}"
    return r.json() if r.content else {}


def _project(api, videos: Path, title: str) -> int:
    config = (videos / "label-studio.xml").read_text()
    return _ok(api.post(f"{api.base}/api/projects", json={"title": title, "label_config": config}), 201)["id"]


def _tasks(api, project: int) -> list[dict]:
    got = _ok(api.get(f"{api.base}/api/tasks", params={"project": project, "page_size": 100}))
    return got["tasks"] if isinstance(got, dict) else got


def _label_and_export(api, project: int, recs, videos: Path, truth, out: Path) -> Path:
    """Label each task with the known segments as the timeline writes them, then export as JSON."""
    for task in _tasks(api, project):
        name = next(n for n in recs if n in task["data"]["video"])
        runs = video_runs(recs[name], videos / f"{name}.frames.csv", truth)
        result = [{"id": f"seg{k}", "type": "timelinelabels", "from_name": "label", "to_name": "video",
                   "origin": "manual", "value": {"ranges": [{"start": a + 1, "end": b + 1}], "timelinelabels": [lab]}}
                  for k, (a, b, lab) in enumerate(runs)]
        _ok(api.post(f"{api.base}/api/tasks/{task['id']}/annotations/", json={"result": result}), 201)
    r = api.get(f"{api.base}/api/projects/{project}/export", params={"exportType": "JSON"}, timeout=60)
    _ok(r)
    out.write_bytes(r.content)
    return out


def _imported_equals_truth(data: Path, videos: Path, export: Path, out: Path, recs, truth) -> None:
    main(["data", "import", "--frames", str(data / "frames"), "--label-studio", str(export), "--videos", str(videos),
          "--out", str(out)])
    want, have = frame_labels(recs, truth), frame_labels(recs, read_segments_csv(out / "annotations" / "segments.csv"))
    for name in recs:
        assert (want[name] == have[name]).all(), name
    assert read_thermal_dataset(out).classes == read_thermal_dataset(data).classes


def test_uploaded_videos_round_trip_through_label_studio(api, data, videos, tmp_path):
    recs, project = read_frames_folder(data / "frames"), _project(api, videos, "uploaded")
    # one form field per file, as the browser's upload sends them (one field with many files keeps only the last)
    files = [(p.name, (p.name, p.open("rb"), "video/mp4")) for p in sorted(videos.glob("*.mp4"))]
    try:
        _ok(api.post(f"{api.base}/api/projects/{project}/import", files=files, timeout=60), 201)
    finally:
        for _, (_, fh, _) in files:
            fh.close()
    tasks = _tasks(api, project)
    assert len(tasks) == len(recs)
    assert all(t["data"]["video"].startswith("/data/upload/") for t in tasks)  # renamed with Label Studio's prefix
    truth = known_segments(recs)
    export = _label_and_export(api, project, recs, videos, truth, tmp_path / "export.json")
    assert all(task["annotations"][0]["result"][0]["type"] == "timelinelabels" for task in json.loads(export.read_text()))
    _imported_equals_truth(data, videos, export, tmp_path / "imported", recs, truth)


def test_served_videos_and_the_tasks_file_round_trip_through_label_studio(api, data, videos, tmp_path):
    recs, project = read_frames_folder(data / "frames"), _project(api, videos, "served")
    _ok(api.post(f"{api.base}/api/storages/localfiles", json={"project": project, "path": str(videos),
                                                              "title": "videos", "use_blob_urls": False}), 201)
    tasks = json.loads((videos / "label-studio-tasks.json").read_text())
    _ok(api.post(f"{api.base}/api/projects/{project}/import", json=tasks, timeout=60), 201)
    stored = _tasks(api, project)
    assert len(stored) == len(recs)
    for task in stored:  # the tasks file's URLs reach the rendered videos through Label Studio
        video = api.get(f"{api.base}{task['data']['video']}", timeout=30)
        assert video.status_code == 200, task["data"]["video"]
        assert video.content == (videos / f"{task['data']['recording']}.mp4").read_bytes()
    truth = known_segments(recs)
    export = _label_and_export(api, project, recs, videos, truth, tmp_path / "export.json")
    _imported_equals_truth(data, videos, export, tmp_path / "imported", recs, truth)


def test_label_studio_refuses_nothing_actline_writes_for_every_class(api, videos):
    """Label Studio validates a project's config: it keeps every class actline wrote, in order."""
    project = _project(api, videos, "classes")
    got = _ok(api.get(f"{api.base}/api/projects/{project}"))
    classes = json.loads((videos / "render.json").read_text())["classes"]
    assert got["parsed_label_config"]["label"]["labels"] == classes
