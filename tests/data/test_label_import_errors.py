"""Every bad input to actline data import: one line on stderr naming the file (and the row or task), exit 2,
and nothing written at --out."""

import gzip
import json

import numpy as np
import pytest

from actline.cli import main
from actline.data.labels.render_video import RenderSpec, render_recordings
from actline.data.limits import ReadLimits, read_limits
from actline.data.recordings.recording_files import read_frames_folder
from actline.data.recordings.recording_npz import write_npz_recording
from tests.data.test_label_import import nagoya_text


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    frames = root / "frames"
    frames.mkdir()
    rel = np.r_[0, np.cumsum(np.full(99, 0.1))]
    rel[60:] += 2.0  # a gap
    for name in ("bed_a", "hall_b"):
        write_npz_recording(frames / f"{name}.npz", np.full((100, 16, 16), 21.0, np.float32), 1.7e9 + rel)
    videos = render_recordings(read_frames_folder(frames), ["sit", "walk"], root / "videos", RenderSpec(zoom=2))
    return root, frames, videos


def refused(capsys, out, args, *expected):
    with pytest.raises(SystemExit) as exc:
        main(["data", "import", *args, "--out", str(out)])
    assert exc.value.code == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    for text in expected:
        assert text in lines[0], lines[0]
    assert not out.exists() and not list(out.parent.glob(f".{out.name}*"))
    return lines[0]


SEGMENT_ROWS = {
    "unknown recording": ("cellar_x,0,1,sit", "unknown recording 'cellar_x'"),
    "unknown class": ("bed_a,0,1,dance", "unknown class 'dance'"),
    "end before start": ("bed_a,5,4,sit", "at or before it starts"),
    "outside the recording": ("bed_a,5,30,sit", "outside recording 'bed_a'"),
    "overlapping": ("bed_a,0.5,2,walk", "overlaps line 2"),
    "not a number": ("bed_a,one,2,walk", "must be numbers"),
}


@pytest.mark.parametrize("case", sorted(SEGMENT_ROWS))
def test_bad_segment_rows(setup, tmp_path, capsys, case):
    root, frames, _ = setup
    row, what = SEGMENT_ROWS[case]
    csv = tmp_path / "segments.csv"
    csv.write_text(f"recording,start_s,end_s,label\nbed_a,0,1,sit\n{row}\n")
    refused(capsys, tmp_path / "out", ["--segments", str(csv), "--frames", str(frames), "--classes", "sit,walk"],
            str(csv), "line 3", what)


def test_a_frames_csv_with_a_ragged_row(tmp_path, capsys):
    frames = tmp_path / "frames"
    frames.mkdir()
    lines = nagoya_text(np.arange(5) * 0.1, np.full((5, 16, 16), 21.0)).splitlines()
    lines[4] = lines[4].rsplit(",", 3)[0]  # row of the fourth line after the header: 3 values short
    (frames / "bed_a.csv.gz").write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    csv = tmp_path / "s.csv"
    csv.write_text("recording,start_s,end_s,label\nbed_a,0,0.3,sit\n")
    refused(capsys, tmp_path / "out", ["--segments", str(csv), "--frames", str(frames)],
            "bed_a.csv.gz", "line 5: expected 258 fields, got 255")


def test_files_over_the_caps(setup, tmp_path, capsys):
    root, frames, _ = setup
    csv = tmp_path / "s.csv"
    csv.write_text("recording,start_s,end_s,label\n" + "".join(f"bed_a,{k},{k + 0.5},sit\n" for k in range(9)))
    with read_limits(ReadLimits(max_label_bytes=100)):
        refused(capsys, tmp_path / "out", ["--segments", str(csv), "--frames", str(frames)],
                str(csv), "more than the limit of 100")
    with read_limits(ReadLimits(max_frame_values=100 * 16 * 16 - 1)):
        refused(capsys, tmp_path / "out", ["--segments", str(csv), "--frames", str(frames)],
                "bed_a.npz", "'frames'", "more than the limit")


def ls_task(name, result):
    return {"id": 1, "data": {"video": f"/data/local-files/?d=videos/{name}.mp4"},
            "annotations": [{"id": 2, "result": result, "was_cancelled": False}]}


TIMELINE = {"type": "timelinelabels", "from_name": "label", "to_name": "video",
            "value": {"ranges": [{"start": 1, "end": 10}], "timelinelabels": ["sit"]}}
EXPORTS = {  # what is given as --label-studio -> what the one line says
    "a CVAT XML file": ("<annotations><version>1.1</version></annotations>", "not a Label Studio JSON export (not JSON"),
    "a COCO file": (json.dumps({"images": [], "annotations": []}), "a COCO file"),
    "a JSON-MIN export": (json.dumps([{"video": "x.mp4", "label": [{"ranges": [], "timelinelabels": ["sit"]}]}]),
                          "task 1 has no 'data' and 'annotations'"),
    "labels of the older timeline config": (json.dumps([ls_task("bed_a", [{**TIMELINE, "type": "labels"}])]),
                                            "task 1 result 1 is of type 'labels', not 'timelinelabels'"),
    "an unknown class": (json.dumps([ls_task("bed_a", [{**TIMELINE, "value": {**TIMELINE["value"],
                                                                               "timelinelabels": ["dance"]}}])]),
                         "task 1: unknown class(es) ['dance']"),
    "frames past the video": (json.dumps([ls_task("bed_a", [{**TIMELINE, "value": {**TIMELINE["value"],
                                                                                    "ranges": [{"start": 95, "end": 120}]}}])]),
                              "task 1: video frames 94-119 are outside the video (0-99"),
    "a video never rendered": (json.dumps([ls_task("attic_z", [TIMELINE])]), "no rendered recording matches"),
    "an end before its start": (json.dumps([ls_task("bed_a", [{**TIMELINE, "value": {**TIMELINE["value"],
                                                                                      "ranges": [{"start": 9, "end": 4}]}}])]),
                                "task 1 result 1: range {'start': 9, 'end': 4} must have whole frames 1 <= start <= end"),
    "overlapping ranges": (json.dumps([ls_task("bed_a", [TIMELINE, {**TIMELINE, "value": {
        "ranges": [{"start": 5, "end": 20}], "timelinelabels": ["walk"]}}])]), "overlaps"),
}


@pytest.mark.parametrize("case", sorted(EXPORTS))
def test_bad_label_studio_exports(setup, tmp_path, capsys, case):
    root, frames, videos = setup
    text, what = EXPORTS[case]
    export = tmp_path / "export.json"
    export.write_text(text)
    refused(capsys, tmp_path / "out", ["--label-studio", str(export), "--videos", str(videos), "--frames", str(frames)],
            str(export), what)


CVAT = ('<annotations><version>{v}</version><meta><task><name>bed_a</name><size>100</size><mode>interpolation</mode>'
        '<start_frame>{s}</start_frame><stop_frame>99</stop_frame></task></meta>'
        '<track id="0" label="{label}"><box frame="3" outside="0" keyframe="1" xtl="0" ytl="0" xbr="1" ybr="1"/>'
        '<box frame="9" outside="1" keyframe="1" xtl="0" ytl="0" xbr="1" ybr="1"/></track></annotations>')
CVAT_EXPORTS = {
    "a Label Studio export": (json.dumps([ls_task("bed_a", [TIMELINE])]), "not a CVAT XML export (not XML"),
    "another XML": ("<dataset><item/></dataset>", "not a CVAT XML export (root element <dataset>"),
    "an unknown encoding (found by fuzzing)": ('<?xml version="1.0" encoding="Atf-8"?><annotations/>',
                                               "not a CVAT XML export (not XML: unknown encoding"),
    "version 1.0": (CVAT.format(v="1.0", s=0, label="sit"), "CVAT XML version '1.0': actline reads version 1.1"),
    "a task of no rendered recording": (CVAT.format(v="1.1", s=0, label="sit").replace("bed_a", "attic_z"),
                                        "no rendered recording matches"),
    "a task that starts late": (CVAT.format(v="1.1", s=10, label="sit"), "starts at frame 10"),
    "an unknown class": (CVAT.format(v="1.1", s=0, label="dance"), "unknown class(es) ['dance']"),
    "entities": ('<!DOCTYPE a [<!ENTITY x "y">]>' + CVAT.format(v="1.1", s=0, label="sit"), "entities is not read"),
}


@pytest.mark.parametrize("case", sorted(CVAT_EXPORTS))
def test_bad_cvat_exports(setup, tmp_path, capsys, case):
    root, frames, videos = setup
    text, what = CVAT_EXPORTS[case]
    export = tmp_path / "export.xml"
    export.write_text(text)
    refused(capsys, tmp_path / "out", ["--cvat", str(export), "--videos", str(videos), "--frames", str(frames)],
            str(export), what)


def test_a_sidecar_of_other_frames_is_refused(setup, tmp_path, capsys):
    root, frames, videos = setup
    other = tmp_path / "frames"
    other.mkdir()
    write_npz_recording(other / "bed_a.npz", np.full((100, 16, 16), 21.0, np.float32), 1.8e9 + np.arange(100) * 0.1)
    export = tmp_path / "export.json"
    export.write_text(json.dumps([ls_task("bed_a", [TIMELINE])]))
    refused(capsys, tmp_path / "out", ["--label-studio", str(export), "--videos", str(videos), "--frames", str(other)],
            "bed_a.frames.csv", "line 2", "rendered from other recordings")


def test_exports_and_sidecars_over_the_caps(setup, tmp_path, capsys):
    """The size cap is checked before an export or a sidecar is read; a zipped CVAT export by what it inflates to."""
    import zipfile

    root, frames, videos = setup
    ls, xml = tmp_path / "export.json", tmp_path / "bed_a.xml"
    ls.write_text(json.dumps([ls_task("bed_a", [TIMELINE])]))
    xml.write_text(CVAT.format(v="1.1", s=0, label="sit"))
    with zipfile.ZipFile(tmp_path / "bed_a.zip", "w", zipfile.ZIP_DEFLATED) as z:  # a small zip, a large XML
        z.writestr("annotations.xml", CVAT.format(v="1.1", s=0, label="sit").replace("<meta>", "<meta>" + " " * 5000))
    common = ["--videos", str(videos), "--frames", str(frames)]
    with read_limits(ReadLimits(max_label_bytes=100)):
        refused(capsys, tmp_path / "out", ["--label-studio", str(ls), *common], str(ls), "more than the limit of 100")
        refused(capsys, tmp_path / "out", ["--cvat", str(xml), *common], str(xml), "more than the limit of 100")
    with read_limits(ReadLimits(max_label_bytes=2000)):
        assert (tmp_path / "bed_a.zip").stat().st_size < 2000
        refused(capsys, tmp_path / "out", ["--cvat", str(tmp_path / "bed_a.zip"), *common], "bed_a.zip",
                "annotations.xml holds", "more than the limit of 2,000")
    sidecar_cap = (videos / "bed_a.frames.csv").stat().st_size - 1
    with read_limits(ReadLimits(max_label_bytes=sidecar_cap)):
        refused(capsys, tmp_path / "out", ["--label-studio", str(ls), *common], "bed_a.frames.csv",
                "more than the limit")
