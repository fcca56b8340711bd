"""docs/your-recordings.md: every command on the page runs, in order, on synthetic recordings named as the
page names them, with the page's own segments CSV and exports made the way Label Studio and CVAT write them."""

import json
import re
import shlex
import shutil
from pathlib import Path

import pytest

from actline.cli import main
from actline.data.labels import read_segments_csv
from actline.data.recordings.recording_files import read_frames_folder
from actline.data.recordings.recording_npz import write_npz_recording
from actline.data.synth.thermal_set import SynthConfig, generate_thermal_dataset
from actline.data.thermal_h5 import read_thermal_dataset
from tests.data.test_label_import import cvat_video_xml, label_studio_export, video_runs

PAGE = Path(__file__).resolve().parents[2] / "docs" / "your-recordings.md"


def page_blocks(kind: str) -> list[str]:
    text = PAGE.read_text(encoding="utf-8")
    # the sections on recording and on the browser page are run by their own tests (tests/apps/stream/
    # test_docs_commands.py, tests/apps/label/test_label_docs.py), which need a broker or a browser
    for section in ("Recording live sensors", "Labelling in the browser"):
        text = re.sub(rf"\n## {section}\n.*?(?=\n## )", "\n", text, flags=re.S)
    return re.findall(rf"```{kind}\n(.*?)```", text, flags=re.S)


def page_commands() -> list[str]:
    return [ln.strip() for block in page_blocks("bash") for ln in block.splitlines() if ln.strip().startswith("actline ")]


@pytest.mark.slow  # 6-10 s: renders and imports twice
def test_every_command_on_the_page_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    synth = generate_thermal_dataset(tmp_path / "synth", SynthConfig(preset="realistic", n_recordings=2,
                                                                     duration_s=20.0, seed=2))
    (tmp_path / "recordings").mkdir()
    (first, rec1), (_, rec2) = sorted(read_frames_folder(synth / "frames").items())
    shutil.copy(synth / "frames" / f"{first}.h5", tmp_path / "recordings" / "bedroom_2025-06-01.h5")
    write_npz_recording(tmp_path / "recordings" / "lounge_2025-06-01.npz", rec2.frames, rec2.timestamps)
    (csv_text,) = page_blocks("csv")
    (tmp_path / "segments.csv").write_text(csv_text)
    truth = read_segments_csv(tmp_path / "segments.csv")

    commands = page_commands()
    assert [c.split()[1:3] for c in commands] == [["data", "render"], ["data", "import"], ["data", "render"],
                                                  ["data", "import"], ["data", "import"], ["data", "inspect"]]
    for command in commands:
        args = shlex.split(command)[1:]
        if args[:2] == ["data", "import"] and "--label-studio" in args:  # what the labeller exports
            Path("export.json").write_text(json.dumps(label_studio_export(_recs(), Path("videos"), truth)))
        if args[:2] == ["data", "import"] and "--cvat" in args:
            for name, rec in _recs().items():
                runs = video_runs(rec, Path("videos-cvat") / f"{name}.frames.csv", truth)
                Path(f"{name}.xml").write_text(cvat_video_xml(name, rec.n_frames, runs))
        main(args)
        capsys.readouterr()
    for data in ("my-data", "my-data-cvat", "my-data-csv"):
        segs = read_segments_csv(Path(data) / "annotations" / "segments.csv")
        assert {s.recording for s in segs} == {"bedroom_2025-06-01", "lounge_2025-06-01"}, data
        assert {s.label for s in segs} == {"lying", "sitting", "walking"}
    assert read_thermal_dataset("my-data").classes == ["lying", "sitting", "standing", "walking"]
    rule = json.loads(Path("my-data-csv/annotations/train.json").read_text())["info"]["keyframe_rule"]
    assert rule["every_s"] == 1.0


def _recs():
    return read_frames_folder(Path("recordings"))


@pytest.mark.parametrize("page", ["your-recordings.md"])
def test_page_is_in_the_nav_with_its_placeholders(page):
    nav = (PAGE.parents[1] / "mkdocs.yml").read_text()
    assert f"Your recordings: {page}" in nav
    text = PAGE.read_text()
    assert "## Recording live sensors" in text and "## Labelling in the browser" in text
