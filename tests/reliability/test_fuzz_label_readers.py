"""The readers of your own recordings and labels, fed garbage (as tests/reliability/test_fuzz_readers.py does
for the others): each input loads, or fails with actline's own one-line error. Never anything else.

Targets: segments CSVs, NPZ recordings (random structures and mutated bytes), frame sidecars, Label Studio
exports (random JSON and structured tasks with random values, mapped to segments), CVAT XML exports (mutated
valid exports and random bytes). ``ACTLINE_FUZZ_EXAMPLES`` inputs per target (default 60).
"""

import io
import json
import zipfile

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.reliability.test_fuzz_readers import FUZZ, _mutate, _only_actline_errors, json_values

CLASSES = ["sit", "walk"]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz-labels")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """One recording (irregular, with a gap) and its sidecar."""
    from actline.data.dataset import Recording
    from actline.data.labels.video_labels import write_sidecar

    root = tmp_path_factory.mktemp("r")
    ts = 1.7e9 + np.r_[np.arange(30) * 0.1, 5.0 + np.arange(30) * 0.05]
    rec = Recording("bed_a", np.full((60, 4, 4), 21.0, np.float32), ts, "bed")
    return rec, write_sidecar(root / "bed_a.frames.csv", rec)


@given(text=st.text(max_size=300), header=st.sampled_from(["", "recording,start_s,end_s,label\n",
                                                           "label,end_s,start_s,recording,x\n"]))
@FUZZ
def test_segments_csv(scratch, rendered, text, header):
    from actline.data.labels import read_segments_csv

    (scratch / "s.csv").write_bytes((header + text).encode("utf-8", "replace"))
    _only_actline_errors(read_segments_csv, scratch / "s.csv", {"bed_a": rendered[0]}, CLASSES)


def _npz_bytes(shape, dtype, keys, ts_kind) -> bytes:
    buf = io.BytesIO()
    n = shape[0] if shape else 0
    ts = {"ok": 1.7e9 + np.arange(n) * 0.1, "short": np.arange(max(n - 1, 0)) * 0.1, "back": -np.arange(n) * 0.1,
          "nan": np.full(n, np.nan), "2d": np.zeros((n, 2))}[ts_kind]
    arrays = {"frames": np.zeros(shape, dtype=dtype), "timestamps": ts}
    np.savez(buf, **{k: arrays[k] for k in keys})
    return buf.getvalue()


@given(shape=st.lists(st.integers(0, 5), min_size=0, max_size=4), dtype=st.sampled_from(["f4", "f8", "i2", "u1", "c8", "?"]),
       keys=st.sampled_from([("frames", "timestamps"), ("frames",), ("timestamps",)]),
       ts_kind=st.sampled_from(["ok", "short", "back", "nan", "2d"]),
       flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=4), cut=st.none() | st.integers(0, 3000))
@FUZZ
def test_npz_recording(scratch, shape, dtype, keys, ts_kind, flips, cut):
    from actline.data.recordings.recording_files import read_recording_file

    (scratch / "bed_a.npz").write_bytes(_mutate(_npz_bytes(shape, dtype, keys, ts_kind), flips, cut))
    _only_actline_errors(read_recording_file, scratch / "bed_a.npz")


@given(text=st.text(max_size=200), header=st.booleans())
@FUZZ
def test_sidecar(scratch, rendered, text, header):
    from actline.data.labels.video_labels import check_sidecar, read_sidecar

    path = scratch / "x.frames.csv"
    path.write_bytes((("video_frame,sensor_frame,timestamp_s\n" if header else "") + text).encode("utf-8", "replace"))

    def read_and_check():
        frames, times = read_sidecar(path)
        check_sidecar(path, rendered[0], frames, times)

    _only_actline_errors(read_and_check)


range_values = st.fixed_dictionaries({}, optional={"start": json_values | st.integers(-5, 80),
                                                    "end": json_values | st.integers(-5, 80)})
results = st.fixed_dictionaries({"type": st.sampled_from(["timelinelabels", "labels", "choices"]) | json_values},
                                optional={"value": st.fixed_dictionaries({}, optional={
                                    "ranges": st.lists(range_values, max_size=3) | json_values,
                                    "timelinelabels": st.lists(st.sampled_from(CLASSES + ["x"]), max_size=2) | json_values})
                                    | json_values})
tasks = st.fixed_dictionaries({}, optional={
    "id": json_values, "data": st.fixed_dictionaries({}, optional={"video": st.sampled_from(
        ["/data/upload/1/0a1b2c3d-bed_a.mp4", "/data/local-files/?d=v/bed_a.mp4", "x"]) | json_values,
        "recording": st.sampled_from(["bed_a", "x"]) | json_values}) | json_values,
    "annotations": st.lists(st.fixed_dictionaries({}, optional={"result": st.lists(results, max_size=3) | json_values,
                                                                "was_cancelled": json_values}), max_size=2) | json_values})


@given(doc=st.lists(tasks, max_size=3) | json_values)
@FUZZ
def test_label_studio_export(scratch, rendered, doc):
    from actline.data.labels.label_studio import read_label_studio_export
    from actline.data.labels.video_labels import labels_to_segments

    rec, sidecar = rendered
    path = scratch / "export.json"
    path.write_text(json.dumps(doc))

    def read_and_map():
        for task in read_label_studio_export(path):
            labels_to_segments(rec, sidecar, task, path, CLASSES)

    _only_actline_errors(read_and_map)


CVAT_SEED = ('<?xml version="1.0" encoding="utf-8"?>\n<annotations><version>1.1</version><meta><task><name>bed_a</name>'
             '<size>60</size><mode>interpolation</mode><start_frame>0</start_frame><stop_frame>59</stop_frame>'
             '</task></meta><track id="0" label="sit"><box frame="3" outside="0" keyframe="1" xtl="0" ytl="0" xbr="1" '
             'ybr="1"/><box frame="9" outside="1" keyframe="1" xtl="0" ytl="0" xbr="1" ybr="1"/></track>'
             '<image id="20" name="f"><tag label="walk"/></image></annotations>').encode()


@given(flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6),
       cut=st.none() | st.integers(0, 800), noise=st.binary(max_size=300), kind=st.sampled_from(["xml", "zip", "random"]))
@FUZZ
def test_cvat_export(scratch, rendered, flips, cut, noise, kind):
    from actline.data.labels.cvat import read_cvat_export
    from actline.data.labels.video_labels import labels_to_segments

    data = noise if kind == "random" else _mutate(CVAT_SEED, flips, cut)
    path = scratch / ("export.zip" if kind == "zip" else "export.xml")
    if kind == "zip":
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("annotations.xml", data)
    else:
        path.write_bytes(data)
    _only_actline_errors(lambda: labels_to_segments(*rendered, read_cvat_export(path), path, CLASSES))
