"""actline data render: the files the labelling tool opens hold the classes and point at the videos, and every
video shares one fixed temperature scale (a colour means the same temperature in every video)."""

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import av
import numpy as np
import pytest

from actline.cli import main
from actline.data.labels.heatmap import SENTINEL_RGB, heat_rgb
from actline.data.recordings.recording_npz import write_npz_recording

CLASSES = ["sitting", "walking", "lying & <fallen>"]  # a class name that must be escaped in XML


@pytest.fixture(scope="module")
def recordings(tmp_path_factory) -> Path:
    """A cool room with one warm pixel, and a warm room with one dead pixel: the same 30 °C in both."""
    root = tmp_path_factory.mktemp("rooms")
    cool = np.full((6, 4, 4), 18.0, np.float32)
    cool[:, 1, 1] = 30.0
    warm = np.full((6, 4, 4), 30.0, np.float32)
    warm[:, 0, 0] = -273.2
    write_npz_recording(root / "bed_cool.npz", cool, 1.7e9 + np.arange(6) * 0.1)
    write_npz_recording(root / "hall_warm.npz", warm, 1.7e9 + np.r_[0, 0.1, 0.2, 3.2, 3.3, 3.4])
    return root


def _first_frame(video: Path) -> np.ndarray:
    with av.open(str(video)) as c:
        return next(c.decode(video=0)).to_ndarray(format="rgb24").astype(int)


def _block(img: np.ndarray, y: int, x: int, zoom: int) -> np.ndarray:
    """The mean colour of a sensor pixel's block, away from its edges (colour is subsampled in the video)."""
    return img[y * zoom + 4:(y + 1) * zoom - 4, x * zoom + 4:(x + 1) * zoom - 4].reshape(-1, 3).mean(axis=0)


def test_label_studio_files_hold_the_classes_and_point_at_the_videos(recordings, tmp_path):
    out = tmp_path / "videos"
    main(["data", "render", "--data", str(recordings), "--classes", ",".join(CLASSES), "--out", str(out),
          "--video-fps", "12", "--quiet"])
    view = ET.fromstring((out / "label-studio.xml").read_text())
    (video,) = view.iter("Video")
    (timeline,) = view.iter("TimelineLabels")
    assert video.get("frameRate") == "12" and timeline.get("toName") == video.get("name")
    assert [lab.get("value") for lab in timeline.iter("Label")] == CLASSES
    tasks = json.loads((out / "label-studio-tasks.json").read_text())
    assert [t["data"]["video"] for t in tasks] == [f"/data/local-files/?d=videos/{n}.mp4" for n in ("bed_cool", "hall_warm")]
    assert all((out / f"{t['data']['recording']}.mp4").is_file() for t in tasks)
    manifest = json.loads((out / "render.json").read_text())
    assert manifest["classes"] == CLASSES and manifest["video_fps"] == 12 and manifest["scale_c"] == [15.0, 40.0]


def test_cvat_labels_hold_the_classes(recordings, tmp_path):
    out = tmp_path / "videos"
    main(["data", "render", "--data", str(recordings), "--classes", ",".join(CLASSES), "--tool", "cvat", "--out",
          str(out), "--quiet"])
    assert [lab["name"] for lab in json.loads((out / "cvat-labels.json").read_text())] == CLASSES
    assert not (out / "label-studio.xml").exists()


def test_one_fixed_scale_for_every_video(recordings, tmp_path):
    out = tmp_path / "videos"
    main(["data", "render", "--data", str(recordings), "--classes", "sitting", "--out", str(out), "--zoom", "16",
          "--quiet"])
    cool, warm = _first_frame(out / "bed_cool.mp4"), _first_frame(out / "hall_warm.mp4")
    want = heat_rgb(np.array([[30.0]]))[0, 0]
    assert np.abs(_block(cool, 1, 1, 16) - want).max() < 16  # 30 °C in the cool room ...
    assert np.abs(_block(warm, 2, 2, 16) - want).max() < 16  # ... is the colour of 30 °C in the warm room
    assert np.abs(_block(cool, 2, 2, 16) - heat_rgb(np.array([[18.0]]))[0, 0]).max() < 16
    assert np.abs(_block(warm, 0, 0, 16) - np.array(SENTINEL_RGB)).max() < 24  # the dead pixel in cyan
    main(["data", "render", "--data", str(recordings), "--classes", "sitting", "--out", str(tmp_path / "v2"),
          "--zoom", "16", "--scale", "30,45", "--quiet"])  # --scale moves it: 30 °C is now the bottom
    low = heat_rgb(np.array([[30.0]]), (30.0, 45.0))[0, 0]
    assert np.abs(_block(_first_frame(tmp_path / "v2" / "bed_cool.mp4"), 1, 1, 16) - low).max() < 16
    assert np.abs(low.astype(int) - want.astype(int)).max() > 100
