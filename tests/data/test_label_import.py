"""actline data render and data import: round trips through Label Studio's and CVAT's export formats
(built the way their documentation describes them, from known segments) and through segments CSVs beside
HDF5, NPZ and Nagoya-style CSV frames; every bad input refused in one line, with nothing written."""

import gzip
import json
from pathlib import Path

import av
import numpy as np
import pytest

from actline.cli import main
from actline.data.labels import LabelledSegment, read_segments_csv, relative_times, write_segments_csv
from actline.data.labels.render_video import RenderSpec, render_recordings
from actline.data.labels.video_labels import read_sidecar
from actline.data.recordings.recording_files import read_frames_folder
from actline.data.recordings.recording_npz import write_npz_recording
from actline.data.segments import Segment, segments_to_frames
from actline.data.synth.thermal_set import SynthConfig, generate_thermal_dataset
from actline.data.thermal_h5 import read_thermal_dataset, write_recording_h5


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    """Two realistic recordings: sensor bursts at 6-31 fps with gaps, int64 ms timestamps."""
    return generate_thermal_dataset(tmp_path_factory.mktemp("synth") / "d",
                                    SynthConfig(preset="realistic", n_recordings=2, duration_s=20.0, seed=1))


@pytest.fixture(scope="module")
def recs(synth):
    return read_frames_folder(synth / "frames")


def known_segments(recs) -> list[LabelledSegment]:
    """Three segments a recording, boundaries at odd times (one inside a burst, one on a frame), a gap left."""
    out = []
    for name, rec in sorted(recs.items()):
        rel = relative_times(rec)
        on_frame = float(rel[len(rel) // 2])
        out += [LabelledSegment(name, 0.0, 3.337, "sitting"), LabelledSegment(name, 3.337, on_frame, "walking"),
                LabelledSegment(name, on_frame + 1.0, float(rel[-1]) + 0.05, "lying down-lying with risk")]
    return out


def frame_labels(recs, segments) -> dict[str, np.ndarray]:
    return {name: segments_to_frames([Segment(s.start_s, s.end_s, s.label) for s in segments if s.recording == name],
                                     times=relative_times(rec), fill="-") for name, rec in recs.items()}


def video_runs(rec, sidecar: Path, segments) -> list[tuple[int, int, str]]:
    """The known segments as inclusive runs of VIDEO frames (0-based), through the sidecar."""
    sensor, _ = read_sidecar(sidecar)
    labels = frame_labels({rec.id: rec}, segments)[rec.id][sensor]
    runs, start = [], 0
    for k in range(1, len(labels) + 1):
        if k == len(labels) or labels[k] != labels[start]:
            if labels[start] != "-":
                runs.append((start, k - 1, str(labels[start])))
            start = k
    return runs


@pytest.fixture(scope="module")
def rendered(synth, recs, tmp_path_factory):
    out = tmp_path_factory.mktemp("render") / "videos"
    classes = read_thermal_dataset(synth).classes
    return render_recordings(recs, classes, out, RenderSpec(tool="label-studio", video_fps=12))


def test_each_video_frame_shows_its_sensor_frame(recs, rendered):
    from actline.data.labels.heatmap import frame_text, labelling_frame, layout

    name, rec = sorted(recs.items())[0]
    with av.open(str(rendered / f"{name}.mp4")) as c:
        assert c.streams.video[0].codec_context.name in ("h264", "mpeg4")
        decoded = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    sensor, times = read_sidecar(rendered / f"{name}.frames.csv")
    assert len(decoded) == len(sensor) == rec.n_frames and (sensor == np.arange(rec.n_frames)).all()
    np.testing.assert_allclose(times, rec.timestamps, atol=5e-4)
    rel = relative_times(rec)
    size = layout(rec.frames.shape[1:], frame_text(rec.timestamps[-1], rel[-1], rec.n_frames - 1))
    for k in (0, 7, rec.n_frames // 2, rec.n_frames - 1):  # the closest rendered frame to decoded frame k is k
        near = [k + d for d in range(-3, 4) if 0 <= k + d < rec.n_frames]
        err = [np.abs(decoded[k].astype(float) - labelling_frame(rec.frames[j], frame_text(rec.timestamps[j], rel[j], j),
                                                                 size).astype(float)).mean() for j in near]
        assert near[int(np.argmin(err))] == k


def label_studio_export(recs, rendered, segments) -> list:
    """Label Studio's JSON export: tasks whose videos were uploaded through the UI (an 8-hex prefix on the file),
    one annotation each with TimelineLabels results (frames counted from 1, both ends included)."""
    tasks = []
    for t, (name, rec) in enumerate(sorted(recs.items()), start=1):
        result = [{"id": f"r{k}", "type": "timelinelabels", "from_name": "label", "to_name": "video", "origin": "manual",
                   "value": {"ranges": [{"start": a + 1, "end": b + 1}], "timelinelabels": [label]}}
                  for k, (a, b, label) in enumerate(video_runs(rec, rendered / f"{name}.frames.csv", segments))]
        tasks.append({"id": t, "data": {"video": f"/data/upload/1/0f3a9c1e-{name}.mp4"}, "project": 1,
                      "annotations": [{"id": 10 + t, "result": [], "was_cancelled": True},
                                      {"id": 20 + t, "result": result, "was_cancelled": False, "ground_truth": False,
                                       "created_at": "2025-06-03T10:00:00Z", "updated_at": "2025-06-03T10:05:00Z",
                                       "lead_time": 12.5, "task": t, "completed_by": 1}],
                      "predictions": []})
    return tasks


def test_label_studio_round_trip_is_exact_to_the_frame(synth, recs, rendered, tmp_path):
    truth = known_segments(recs)
    export = tmp_path / "export.json"
    export.write_text(json.dumps(label_studio_export(recs, rendered, truth)))
    main(["data", "import", "--label-studio", str(export), "--videos", str(rendered), "--frames",
          str(synth / "frames"), "--out", str(tmp_path / "out")])
    got = read_segments_csv(tmp_path / "out" / "annotations" / "segments.csv")
    want, have = frame_labels(recs, truth), frame_labels(recs, got)
    for name in recs:
        assert (want[name] == have[name]).all(), name
    assert read_thermal_dataset(tmp_path / "out").classes == read_thermal_dataset(synth).classes  # from render.json


def cvat_video_xml(name: str, n_frames: int, runs, version: str = "1.1") -> str:
    """'CVAT for video 1.1': one box track per run, visible from its first frame, outside from the frame after."""
    tracks = []
    for k, (a, b, label) in enumerate(runs):
        shapes = [f'<box frame="{a}" keyframe="1" outside="0" occluded="0" xtl="1" ytl="1" xbr="50" ybr="40" z_order="0"/>']
        if b + 1 < n_frames:
            shapes.append(f'<box frame="{b + 1}" keyframe="1" outside="1" occluded="0" xtl="1" ytl="1" xbr="50" '
                          'ybr="40" z_order="0"/>')
        tracks.append(f'<track id="{k}" label="{label}" source="manual">{"".join(shapes)}</track>')
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<annotations><version>{version}</version><meta><task><id>7</id>'
            f"<name>{name}</name><size>{n_frames}</size><mode>interpolation</mode><overlap>0</overlap>"
            f"<start_frame>0</start_frame><stop_frame>{n_frames - 1}</stop_frame><frame_filter></frame_filter>"
            f"<labels><label><name>sitting</name></label></labels></task><dumped>2025-06-03</dumped></meta>"
            f'{"".join(tracks)}</annotations>')


def test_cvat_round_trip_is_exact_to_the_frame(synth, recs, rendered, tmp_path):
    truth = known_segments(recs)
    args = []
    for name, rec in sorted(recs.items()):
        path = tmp_path / f"{name}.xml"
        path.write_text(cvat_video_xml(name, rec.n_frames, video_runs(rec, rendered / f"{name}.frames.csv", truth)))
        args += ["--cvat", str(path)]
    main(["data", "import", *args, "--videos", str(rendered), "--frames", str(synth / "frames"), "--out",
          str(tmp_path / "out")])
    got = read_segments_csv(tmp_path / "out" / "annotations" / "segments.csv")
    want, have = frame_labels(recs, truth), frame_labels(recs, got)
    assert all((want[n] == have[n]).all() for n in recs)


def test_cvat_frame_tags_of_an_images_export(recs, rendered):
    from actline.data.labels.cvat import read_cvat_export

    name, rec = sorted(recs.items())[0]
    images = "".join(f'<image id="{f}" name="frame_{f:06d}" width="480" height="342">'
                     + (f'<tag label="{lab}" source="manual"/>' if lab else "") + "</image>"
                     for f, lab in enumerate(["sitting"] * 4 + [None] * 2 + ["walking"] * 3))
    path = rendered.parent / "tags.xml"
    path.write_text(f"<annotations><version>1.1</version><meta><task><name>{name}</name><size>9</size>"
                    f"<mode>annotation</mode></task></meta>{images}</annotations>")
    labels = read_cvat_export(path)
    assert labels.names == [name] and labels.ranges == [(0, 3, "sitting"), (6, 8, "walking")]


# ------------------------------------------------------------------ segments CSV beside HDF5, NPZ, Nagoya CSV frames
def nagoya_text(ts: np.ndarray, frames: np.ndarray) -> str:
    lines = ["2017/02/03 17:28:07", ",".join(["Time (sec)", "PTAT"] + [f"P{i:03d}" for i in range(256)])]
    lines += [",".join([f"{t:.3f}", "22.0"] + [f"{v:.2f}" for v in f.ravel()]) for t, f in zip(ts, frames)]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def frames_dir(tmp_path_factory):
    """One recording in each format, 16x16, irregular timestamps with a gap."""
    root = tmp_path_factory.mktemp("frames")
    rng = np.random.default_rng(3)
    for k, name in enumerate(["bed_h5", "hall_npz", "kitchen_csv"]):
        dt = rng.choice([0.1, 0.1, 0.12, 0.3], size=150)
        dt[70] = 2.5
        rel = np.r_[0, np.cumsum(dt)]
        frames = rng.normal(22, 1, (151, 16, 16)).round(2).astype(np.float32)
        if k == 0:
            write_recording_h5(root / f"{name}.h5", frames, np.round((1.7e9 + rel) * 1000).astype(np.int64), name)
        elif k == 1:
            write_npz_recording(root / f"{name}.npz", frames, 1.7e9 + rel)
        else:
            (root / f"{name}.csv.gz").write_bytes(gzip.compress(nagoya_text(rel + 5.0, frames).encode()))
    (root / "README.txt").write_text("not a recording")
    return root


def test_segments_csv_round_trip_on_h5_npz_and_nagoya_csv(frames_dir, tmp_path):
    recs = read_frames_folder(frames_dir)
    assert set(recs) == {"bed_h5", "hall_npz", "kitchen_csv"}
    truth = [LabelledSegment(n, 0.5, 9.0, "sit") for n in recs] + [LabelledSegment(n, 9.0, 14.04, "walk") for n in recs]
    write_segments_csv(tmp_path / "s.csv", truth)
    main(["data", "import", "--segments", str(tmp_path / "s.csv"), "--frames", str(frames_dir), "--out",
          str(tmp_path / "out"), "--keyframe-every", "2.0"])
    ds = read_thermal_dataset(tmp_path / "out")
    assert ds.classes == ["sit", "walk"] and set(ds.recordings) == set(recs)
    for name, rec in recs.items():
        np.testing.assert_array_equal(ds.recordings[name].frames, rec.frames)
        np.testing.assert_allclose(relative_times(ds.recordings[name]), relative_times(rec), atol=1e-3)
    assert sorted(read_segments_csv(tmp_path / "out" / "annotations" / "segments.csv"),
                  key=lambda s: (s.recording, s.start_s)) == sorted(truth, key=lambda s: (s.recording, s.start_s))
    info = json.loads((tmp_path / "out" / "annotations" / "train.json").read_text())["info"]
    assert info["keyframe_rule"] == {"rule": "centred-grid", "every_s": 2.0, "edge_s": 0.2}


def test_frames_may_name_the_folder_that_holds_them_in_frames(synth, recs, tmp_path, capsys):
    """`--frames recordings` where `stream --record recordings` wrote recordings/frames/, or a data set's folder."""
    import shutil

    main(["data", "import", "--frames", str(synth), "--classes", "sitting", "--out", str(tmp_path / "a")])
    assert set(read_frames_folder(tmp_path / "a" / "frames")) == set(recs)
    mixed = tmp_path / "mixed"  # recordings of its own: those are read, not frames/
    shutil.copytree(synth / "frames", mixed / "frames")
    one = sorted(recs)[0]
    shutil.copy(synth / "frames" / f"{one}.h5", mixed / f"{one}.h5")
    main(["data", "import", "--frames", str(mixed), "--classes", "sitting", "--out", str(tmp_path / "b")])
    assert set(read_frames_folder(tmp_path / "b" / "frames")) == {one}
    (tmp_path / "empty" / "frames").mkdir(parents=True)
    with pytest.raises(SystemExit):
        main(["data", "import", "--frames", str(tmp_path / "empty"), "--classes", "sitting", "--out", str(tmp_path / "c")])
    assert "frames: no recordings found" in capsys.readouterr().err and not (tmp_path / "c").exists()
