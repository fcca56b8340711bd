"""Every reader, fed garbage: it loads, or it fails with actline's own one-line error. Never anything else.

The number of inputs per target is ``ACTLINE_FUZZ_EXAMPLES`` (default 60 in the test suite;
docs/reliability.md gives the command of the long run, under an address-space limit, and what it found).
The service targets at the end also check that no request gets a 5xx, every job ends and leaves
nothing behind, and resident memory stays bounded; run with ``-s`` to see the summary line (inputs
per target, requests, memory).
"""

import functools
import gzip
import io
import json
import math
import os
import resource
import time
import warnings
from collections import Counter

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actline.core.errors import ActlineError

N = int(os.environ.get("ACTLINE_FUZZ_EXAMPLES", "60"))
_SETTINGS = settings(max_examples=N, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
COUNTS: Counter = Counter()  # inputs tried per target, for the summary line of the last test


def FUZZ(test):  # noqa: N802 - used as a decorator, like hypothesis' own
    """The settings, and a count of the inputs each target really tried."""
    @functools.wraps(test)
    def counted(*args, **kwargs):
        COUNTS[test.__name__] += 1
        return test(*args, **kwargs)

    return _SETTINGS(counted)
json_values = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True)
                           | st.text(max_size=20), lambda c: st.lists(c, max_size=5) | st.dictionaries(st.text(max_size=8), c, max_size=5),
                           max_leaves=20)


def _only_actline_errors(fn, *args, **kwargs):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args, **kwargs)
    except ActlineError as exc:
        assert str(exc) and "\n" not in str(exc).strip()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def _mutate(data: bytes, flips: list[tuple[int, int]], cut: int | None) -> bytes:
    b = bytearray(data)
    for pos, val in flips:
        if b:
            b[pos % len(b)] = val
    return bytes(b[:cut] if cut is not None else b)


# ------------------------------------------------------------------ Nagoya CSV and annotations
def _valid_csv(n=20) -> str:
    lines = ["2017/02/03 17:28:07", ",".join(["Time (sec)", "PTAT"] + [f"P{i:03d}" for i in range(256)])]
    lines += [",".join([f"{0.1 * k:.2f}", "20.0"] + ["20.5"] * 256) for k in range(n)]
    return "\n".join(lines) + "\n"


@given(flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=8),
       cut=st.none() | st.integers(0, 20000), gz=st.booleans())
@FUZZ
def test_nagoya_csv(scratch, flips, cut, gz):
    from actline.data.nagoya import read_nagoya_csv

    data = _mutate(_valid_csv().encode(), flips, cut)
    path = scratch / ("x.csv.gz" if gz else "x.csv")
    path.write_bytes(gzip.compress(data) if gz and cut is None else data)
    _only_actline_errors(read_nagoya_csv, path)


@given(text=st.text(max_size=300))
@FUZZ
def test_nagoya_annotations(scratch, text):
    from actline.data.nagoya import read_annotations

    path = scratch / "annotation_x.csv"
    path.write_text(text, encoding="utf-8", errors="surrogatepass") if False else path.write_bytes(
        text.encode("utf-8", "replace"))
    _only_actline_errors(read_annotations, path)


# ------------------------------------------------------------------ ThermalDataGen HDF5 + COCO
@given(shape=st.lists(st.integers(0, 5), min_size=0, max_size=4), n_ts=st.integers(0, 6),
       dtype=st.sampled_from(["f4", "f8", "i2", "u1", "S3"]), drop=st.sampled_from([None, "frames", "timestamps"]),
       ts_kind=st.sampled_from(["ok", "float", "decreasing", "nan"]))
@FUZZ
def test_thermal_h5(scratch, shape, n_ts, dtype, drop, ts_kind):
    from actline.data.thermal_h5 import read_recording_h5

    path = scratch / "r.h5"
    with h5py.File(path, "w") as fh:
        if drop != "frames":
            fh.create_dataset("frames", data=np.zeros(shape, dtype=dtype))
        if drop != "timestamps":
            ts = np.arange(n_ts, dtype=np.int64) * 100
            ts = {"ok": ts, "float": ts.astype(float) + 0.5, "decreasing": ts[::-1],
                  "nan": np.full(n_ts, np.nan)}[ts_kind]
            fh.create_dataset("timestamps", data=ts)
    _only_actline_errors(read_recording_h5, path)


@given(data=st.binary(max_size=2000))
@FUZZ
def test_thermal_h5_random_bytes(scratch, data):
    from actline.data.thermal_h5 import read_recording_h5

    (scratch / "b.h5").write_bytes(data)
    _only_actline_errors(read_recording_h5, scratch / "b.h5")


@pytest.fixture(scope="module")
def thermal_dir(tmp_path_factory):
    from actline.data.synth.thermal_set import SynthConfig, generate_thermal_dataset

    return generate_thermal_dataset(tmp_path_factory.mktemp("t") / "d", SynthConfig(n_recordings=2, duration_s=20, seed=1))


@given(doc=json_values, which=st.sampled_from(["train.json", "val.json", "class_mapping.json"]))
@FUZZ
def test_thermal_annotations(thermal_dir, doc, which):
    from actline.data.thermal_h5 import read_thermal_dataset

    path = thermal_dir / "annotations" / which
    original = path.read_bytes()
    try:
        path.write_text(json.dumps(doc))
        _only_actline_errors(read_thermal_dataset, thermal_dir)
    finally:
        path.write_bytes(original)


@given(image=st.fixed_dictionaries({}, optional={"id": json_values, "sensor_id": json_values,
                                                 "frame_idx": json_values, "timestamp": json_values}),
       ann=st.fixed_dictionaries({}, optional={"image_id": json_values, "category_id": json_values}))
@FUZZ
def test_thermal_coco_entries(thermal_dir, image, ann):
    from actline.data.thermal_h5 import read_thermal_dataset

    path = thermal_dir / "annotations" / "val.json"
    original = path.read_bytes()
    doc = json.loads(original)
    try:
        doc["images"].append(image)
        doc["annotations"].append(ann)
        path.write_text(json.dumps(doc))
        _only_actline_errors(read_thermal_dataset, thermal_dir)
    finally:
        path.write_bytes(original)


# ------------------------------------------------------------------ video
@pytest.fixture(scope="module")
def video_bytes(tmp_path_factory):
    from actline.data.video import write_video

    rng = np.random.default_rng(0)
    path = write_video(tmp_path_factory.mktemp("v") / "v.mp4",
                       [rng.integers(0, 255, (24, 32, 3), dtype=np.uint8) for _ in range(12)], fps=8)
    return path.read_bytes()


@given(flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6),
       cut=st.none() | st.integers(0, 30000), suffix=st.sampled_from([".mp4", ".mkv", ".avi"]))
@FUZZ
def test_video(scratch, video_bytes, flips, cut, suffix):
    from actline.data.video import iter_frames

    path = scratch / f"v{suffix}"
    path.write_bytes(_mutate(video_bytes, flips, cut))
    _only_actline_errors(lambda: sum(1 for _ in iter_frames(path, fps=8, size=16)))


@given(width=st.integers(1, 1 << 19), height=st.integers(1, 1 << 19), n=st.integers(1, 3), size=st.sampled_from([16, 112, None]))
@FUZZ
def test_video_frame_shapes(scratch, width, height, n, size):
    """Uncompressed frames of any shape up to 2^20 pixels: read within bounded memory, or refused in one line."""
    from tests.reliability.test_input_limits import _raw_video

    if width * height > 1 << 20:
        width = max(1, (1 << 20) // height)
    path = _raw_video(scratch / "raw.mkv", width + width % 2, height + height % 2, n)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    _only_actline_errors(lambda: sum(1 for _ in iter_frames_of(path, size)))
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200 * 1024  # KB: no frame blew up


def iter_frames_of(path, size):
    from actline.data.video import iter_frames

    return iter_frames(path, fps=8, size=size)


# ------------------------------------------------------------------ timelines and labels
@given(doc=json_values)
@FUZZ
def test_timeline_json(scratch, doc):
    from actline.data.segments import read_segments

    (scratch / "t.json").write_text(json.dumps(doc))
    _only_actline_errors(read_segments, scratch / "t.json")


@given(text=st.text(max_size=300), header=st.sampled_from(["", "start_s,end_s,label\n", "start_s,end_s,coarse,fine\n"]))
@FUZZ
def test_timeline_csv_and_frame_labels(scratch, text, header):
    from actline.data.segments import load_labels, read_segments

    (scratch / "t.csv").write_bytes((header + text).encode("utf-8", "replace"))
    _only_actline_errors(read_segments, scratch / "t.csv")
    (scratch / "t.txt").write_bytes(text.encode("utf-8", "replace"))
    _only_actline_errors(load_labels, scratch / "t.txt", 30.0)


# ------------------------------------------------------------------ model directories
@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    import torch

    from actline.modeldir.directory import save_model_dir
    from actline.models import create_model

    torch.manual_seed(0)
    m = create_model("thermal_r2plus1d", num_classes=3)
    return save_model_dir(tmp_path_factory.mktemp("m") / "model", m, {
        "pipeline": "clip-classifier", "arch": m.arch, "classes": ["a", "b", "c"],
        "window": {"length": 16, "mode": "index", "fps": 10.0}, "preprocessing": {"frame_shape": [16, 16]}})


@given(doc=json_values, flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=4),
       cut=st.none() | st.integers(0, 100000), part=st.sampled_from(["config", "weights", "arch"]))
@FUZZ
def test_model_dir(model_dir, doc, flips, cut, part):
    from actline.infer import Recognizer

    cfg_path, w_path = model_dir / "config.json", model_dir / "model.safetensors"
    cfg0, w0 = cfg_path.read_bytes(), w_path.read_bytes()
    try:
        if part == "config":
            cfg_path.write_text(json.dumps(doc))
        elif part == "arch":
            cfg = json.loads(cfg0)
            cfg["arch"] = doc if not isinstance(doc, dict) else {**cfg["arch"], **doc}
            cfg_path.write_text(json.dumps(cfg))
        else:
            w_path.write_bytes(_mutate(w0, flips, cut))
        _only_actline_errors(Recognizer.load, model_dir)
    finally:
        cfg_path.write_bytes(cfg0)
        w_path.write_bytes(w0)


# ------------------------------------------------------------------ the service
# Four services (an index-window and a time-window classifier, a video and a thermal timeline model) are
# started and warmed up together; every target checks no answer is a 5xx, and the last test checks the
# process's resident memory grew by less than SERVICE_GROWTH_MB over all of them.
SERVICE_GROWTH_MB = 256  # each request is capped far below this (bodies 0.5-1 MB, 8 MB of text, 2^22 values)
LOCAL = "http://127.0.0.1"
SEEN = {"requests": 0}  # over the service targets, for the summary line


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _time_model(root):
    import torch

    from actline.modeldir.directory import save_model_dir
    from actline.models import create_model

    torch.manual_seed(0)
    m = create_model("thermal_r2plus1d", num_classes=3)
    return save_model_dir(root / "model", m, {
        "pipeline": "clip-classifier", "arch": m.arch, "classes": ["a", "b", "c"],
        "window": {"length": 16, "mode": "time", "fps": 10.0}, "preprocessing": {"frame_shape": [16, 16]}})


@pytest.fixture(scope="module")
def services(model_dir, timeline_model, thermal_timeline_model, tmp_path_factory, upload_seeds):
    import contextlib

    from fastapi.testclient import TestClient

    from actline.apps.serve import ServeConfig, create_app
    from actline.data.limits import MB, ReadLimits

    small = ServeConfig(max_body_mb=0.5)
    uploads = ServeConfig(max_body_mb=1, queue_size=2, job_timeout_s=60,
                          limits=ReadLimits(max_decompressed_bytes=8 * MB, max_frame_values=1 << 22, max_video_s=600))
    apps = {"index": create_app([model_dir], small), "time": create_app([_time_model(tmp_path_factory.mktemp("tm"))], small),
            "rgb": create_app([timeline_model], uploads), "thermal": create_app([thermal_timeline_model], uploads)}
    with contextlib.ExitStack() as stack:
        c = {k: stack.enter_context(TestClient(app, base_url=LOCAL)) for k, app in apps.items()}
        c["index"].post("/v1/predict", json={"frames": np.full((16, 16, 16), 21.0).tolist()})  # warm up
        c["time"].post("/v1/predict", json={"frames": np.full((20, 16, 16), 21.0).tolist(), "timestamps": list(range(20))})
        for k, name in (("rgb", "v.mp4"), ("thermal", "r.csv.gz")):
            _upload(c[k], name, upload_seeds["video" if k == "rgb" else "csv.gz"])
        yield {**c, "start_mb": _rss_mb()}
        for k in ("rgb", "thermal"):
            jobs = c[k].app.state.service.jobs
            assert jobs.active() == 0 and not list(jobs.root.iterdir())


def _ok(r):
    SEEN["requests"] += 1
    assert r.status_code < 500, r.text
    assert r.status_code < 300 or ("detail" in r.json() and "\n" not in r.json()["detail"])
    return r


@given(body=st.binary(max_size=3000) | json_values.map(lambda v: json.dumps(v).encode())
       | st.builds(lambda shape, v: json.dumps({"frames": np.full(shape, v).tolist()}).encode(),
                   st.lists(st.integers(0, 20), max_size=4), st.floats(-300, 300)),
       ctype=st.sampled_from(["application/json", "application/octet-stream", "text/plain", ""]))
@FUZZ
def test_service_bodies(services, body, ctype):
    _ok(services["index"].post("/v1/predict", content=body, headers={"content-type": ctype} if ctype else {}))


@given(shape=st.lists(st.integers(0, 20), max_size=4), dtype=st.sampled_from(["f4", "f8", "f2", "i2", "u1", "c8", "?"]),
       cut=st.none() | st.integers(0, 5000), pad=st.integers(0, 64))
@FUZZ
def test_npy_with_random_shapes(services, shape, dtype, cut, pad):
    buf = io.BytesIO()
    np.save(buf, np.full(shape, 21.5).astype(dtype))
    data = buf.getvalue() if cut is None else buf.getvalue()[:cut] + bytes(pad)  # a header that lies about the data
    r = _ok(services["index"].post("/v1/predict", content=data, headers={"content-type": "application/octet-stream"}))
    assert r.status_code in (200, 400, 413), (shape, r.text)


# .npy headers as a hostile client writes them: numpy parses them with ast (and tokenize, on failure)
NPY_DESCRS = ["<f4", ">f8", "|u1", "<i2", "<c8", "|O", "|V4", "<U3", "|b1", "<M8[s]", "[('a', '<f4')]", "('<f4', (2,))"]
NPY_ODD_DIMS = ["1L", "-" * 5000 + "1", "(" * 300 + "1" + ")" * 300, "(", "1e3", "9" * 5000, "True"]


@st.composite
def npy_bodies(draw) -> bytes:
    """Magic, version, header length, a header, padding, data. The header is mostly a well-formed dict with
    one odd part (so the reader gets past the parts that are right), and the data is often exactly as long
    as the (possibly absurd) shape declares, so it gets past the size check too."""
    often = lambda: draw(st.integers(0, 9)) < 8  # noqa: E731 - a weighted coin
    descr = draw(st.sampled_from(NPY_DESCRS)) if often() else draw(st.text(max_size=12))
    dims = draw(st.lists(st.sampled_from([-2, -1, 0, 1, 2, 16]) | st.integers(-3, 40) if often()
                         else st.integers(-10**30, 10**30) | st.sampled_from(NPY_ODD_DIMS),
                         max_size=5))
    shape = "(" + "".join(f"{d}, " for d in dims) + ")" if often() else draw(st.text(max_size=20))
    fortran = "False" if often() else draw(st.sampled_from(["True", "0", "None", "'x'"]))
    extra = "" if often() else draw(st.sampled_from([", 'x': 1", ", **{}"]))
    header = "{" + f"'descr': {descr!r}, 'fortran_order': {fortran}, 'shape': {shape}{extra}" + "}" if often() \
        else draw(st.text(max_size=200))
    header += "\n" if often() else draw(st.sampled_from(["", "\x00", " " * 20000 + "\n"]))  # 20000: a long header
    version = 1 if often() else draw(st.sampled_from([2, 3]))
    text = header.encode("utf-8" if version == 3 else "latin-1", "replace")[:65535]
    head = b"\x93NUMPY" + bytes([version, 0]) + len(text).to_bytes(2 if version == 1 else 4, "little") + text
    if not often():  # cut short and zero-padded: as found
        return head[:draw(st.integers(0, 300))] + bytes(200)
    itemsize = np.dtype(descr).itemsize if descr in NPY_DESCRS[:6] else 4
    declared = abs(math.prod(d for d in dims if isinstance(d, int))) * itemsize
    size = declared if often() and declared <= 1 << 16 else draw(st.integers(0, 5000))
    return head + bytes(size)


@given(body=npy_bodies())
@FUZZ
def test_npy_headers(services, body):
    r = _ok(services["index"].post("/v1/predict", content=body, headers={"content-type": "application/octet-stream"}))
    assert r.status_code in (200, 400, 413), r.text


timestamps = (json_values | st.lists(st.floats(allow_nan=True, allow_infinity=True) | st.integers(-10**30, 10**30),
                                     max_size=30)
              | st.integers(1, 30).map(lambda n: (np.arange(n) * 0.1).tolist()))


@given(n=st.integers(0, 30), hw=st.sampled_from([(16, 16), (8, 8), (16, 15)]), value=st.floats(-300, 300),
       ts=st.none() | timestamps, extra=st.dictionaries(st.sampled_from(["k", "x", "frames2"]), json_values, max_size=1))
@FUZZ
def test_service_time_window_model(services, n, hw, value, ts, extra):
    doc = {"frames": np.full((n, *hw), value).tolist(), **extra}
    if ts is not None:
        doc["timestamps"] = ts
    _ok(services["time"].post("/v1/predict", content=json.dumps(doc).encode(), headers={"content-type": "application/json"}))


# ------------------------------------------------------------------ service uploads (POST /v1/timeline)
UPLOAD_NAMES = ["v.mp4", "v.mkv", "v.avi", "r.h5", "r.hdf5", "r.csv", "r.csv.gz", "x.gz", "x.exe", "", "../../x.mp4",
                "a" * 300 + ".mp4", "\u00e9t\u00e9.webm"]


@pytest.fixture(scope="module")
def upload_seeds(video_bytes, tmp_path_factory):
    """Valid small files of every accepted kind, to be mutated."""
    from actline.data.thermal_h5 import write_recording_h5

    root = tmp_path_factory.mktemp("seeds")
    h5 = write_recording_h5(root / "r.h5", np.full((40, 16, 16), 21.0, np.float32), np.arange(40) * 100, "s1")
    return {"video": video_bytes, "h5": h5.read_bytes(), "csv": _valid_csv(40).encode(),
            "csv.gz": gzip.compress(_valid_csv(40).encode())}


def _upload(c, name, data):
    """Post an upload; if accepted, wait for its job to end and check how it ended."""
    r = _ok(c.post("/v1/timeline", files={"file": (name, data, "application/octet-stream")},
                   headers={"Authorization": "Bearer fuzz"}))
    if r.status_code != 202:
        assert r.status_code in (400, 413, 415), r.text
        return None
    return _wait(c, r.json()["job_id"])


def _wait(c, job: str) -> dict:
    """Wait for a job to end; check how it ended."""
    for _ in range(6000):
        status = _ok(c.get(f"/v1/jobs/{job}")).json()
        if status["status"] in ("done", "failed"):
            break
        time.sleep(0.01)
    assert status["status"] in ("done", "failed"), status
    if status["status"] == "failed":
        assert status["error"] and "\n" not in status["error"] and "actline-jobs" not in status["error"]
    return status


@given(seed=st.sampled_from(["video", "h5", "csv", "csv.gz", "random"]), name=st.sampled_from(UPLOAD_NAMES),
       flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6),
       cut=st.none() | st.integers(0, 30000), noise=st.binary(max_size=2000), model=st.sampled_from(["rgb", "thermal"]))
@FUZZ
def test_service_uploads(services, upload_seeds, seed, name, flips, cut, noise, model):
    _upload(services[model], name, noise if seed == "random" else _mutate(upload_seeds[seed], flips, cut))


def _multipart(name: str, data: bytes, boundary: str, field: str = "file") -> bytes:
    return (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode("utf-8", "replace") + data + \
        f"\r\n--{boundary}--\r\n".encode()


header_text = st.characters(min_codepoint=32, max_codepoint=126)  # what httpx sends in a header


@given(boundary=st.sampled_from(["b", "actline", "x" * 70]) | st.text(header_text, min_size=1, max_size=80),
       ctype_boundary=st.none() | st.text(header_text, max_size=80), field=st.sampled_from(["file", "other", "file\"; name=\"x"]),
       name=st.sampled_from(UPLOAD_NAMES), flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6),
       cut=st.none() | st.integers(0, 2000), seed=st.sampled_from(["csv", "video", "random"]), noise=st.binary(max_size=300))
@FUZZ
def test_service_multipart_bodies(services, upload_seeds, boundary, ctype_boundary, field, name, flips, cut, seed, noise):
    """Multipart bodies written by hand and mutated, so the service's own streaming parser sees what a
    well-behaved client library never sends."""
    data = noise if seed == "random" else upload_seeds[seed]
    body = _mutate(_multipart(name, data, boundary, field), flips, cut)
    ctype = f"multipart/form-data; boundary={boundary if ctype_boundary is None else ctype_boundary}"
    c = services["thermal"]
    r = _ok(c.post("/v1/timeline", content=body, headers={"content-type": ctype, "Authorization": "Bearer fuzz"}))
    assert r.status_code in (202, 400, 408, 413, 415), r.text
    if r.status_code == 202:
        _wait(c, r.json()["job_id"])


def _vm_mb() -> dict:
    """Peak and current virtual size and resident memory of this process (/proc/self/status), in MB."""
    with open("/proc/self/status") as fh:
        return {k: int(v.split()[0]) / 1024 for k, v in (line.split(":", 1) for line in fh)
                if k in ("VmPeak", "VmSize", "VmHWM", "VmRSS")}


def test_service_memory_stays_bounded(services):
    """Last of the service targets: the process did not grow with the inputs."""
    now, vm = _rss_mb(), _vm_mb()
    print(f"\n[fuzz] {sum(COUNTS.values())} inputs over {len(COUNTS)} targets ({dict(sorted(COUNTS.items()))}); service: "
          f"{SEEN['requests']} requests, no 5xx; resident memory {services['start_mb']:.0f} -> {now:.0f} MB "
          f"(peak {vm['VmHWM']:.0f} MB resident, {vm['VmPeak']:.0f} MB virtual; address-space limit "
          f"{_limit_mb(resource.RLIMIT_AS)})")
    assert now - services["start_mb"] < SERVICE_GROWTH_MB


def _limit_mb(which) -> str:
    soft = resource.getrlimit(which)[0]
    return "none" if soft == resource.RLIM_INFINITY else f"{soft / 2**20:.0f} MB"
