"""The timeline pipeline on thermal recordings with frame-wise labels (Nagoya layout), via the CLI."""

import json

import pytest
import torch

from actline.cli import main
from actline.data.nagoya import read_nagoya
from actline.data.segments import read_segments
from actline.modeldir.directory import save_model_dir
from actline.models import create_model
from tests.data.test_nagoya import _tiny_dataset


def test_thermal_recordings_train_and_run(tmp_path, capsys, one_thread):
    data = _tiny_dataset(tmp_path / "nag", n=90)
    ds = read_nagoya(data, unlabelled="none")
    assert ds.classes[-1] == "none" and (ds.recordings["20170101_p1_dark1"].frame_labels >= 0).all()
    assert any(s.label == ds.classes.index("none") for s in ds.samples)
    torch.manual_seed(0)
    enc = create_model("thermal_r2plus1d", num_classes=len(ds.classes), in_chans=1)
    save_model_dir(tmp_path / "enc", enc, {"pipeline": "clip-classifier", "arch": enc.arch, "classes": ds.classes,
                                           "window": {"length": 16, "mode": "index", "background": "recording-median"}})
    model = tmp_path / "tl"
    main(["train-timeline", "--data", str(data), "--out", str(model), "--backbone", str(tmp_path / "enc"), "--weights", "none",
          "--quiet", "--set", "stride=4", "--set", "epochs=3", "--set", "val_fraction=0", "--cache", str(tmp_path / "c")])
    cfg = json.loads((model / "config.json").read_text())
    assert cfg["pipeline"] == "timeline" and cfg["features"]["kind"] == "thermal" and cfg["classes"] == ds.classes
    out = tmp_path / "out"
    main(["timeline", str(model), str(data / "20170101" / "raw"), "--out", str(out), "--quiet", "--format", "json",
          "--format", "overlay"])
    assert (out / "20170101_p1_light1_overlay.mp4").stat().st_size > 1000
    segs = read_segments(out / "20170101_p1_light1.json")
    assert segs and segs[0].start_s == 0 and all(s.label in ds.classes for s in segs)
    assert "2 input(s)" in capsys.readouterr().out


def test_thermal_recordings_need_a_thermal_encoder(tmp_path, capsys):
    data = _tiny_dataset(tmp_path / "nag", n=60)
    with pytest.raises(SystemExit) as exc:
        main(["train-timeline", "--data", str(data), "--out", str(tmp_path / "m"), "--backbone", "thermal_r2plus1d",
              "--weights", "none", "--quiet"])
    assert exc.value.code == 2 and not (tmp_path / "m").exists()
    assert "need a thermal encoder" in capsys.readouterr().err


def test_thermal_timeline_report_renders_the_recording_as_video(tmp_path, one_thread):
    from actline.apps.html_report import build_report

    data = _tiny_dataset(tmp_path / "nag", n=90)
    ds = read_nagoya(data, unlabelled="none")
    torch.manual_seed(0)
    enc = create_model("thermal_r2plus1d", num_classes=len(ds.classes), in_chans=1)
    save_model_dir(tmp_path / "enc", enc, {"pipeline": "clip-classifier", "arch": enc.arch, "classes": ds.classes,
                                           "window": {"length": 16, "mode": "index", "background": "none"}})
    main(["train-timeline", "--data", str(data), "--out", str(tmp_path / "tl"), "--backbone", str(tmp_path / "enc"),
          "--weights", "none", "--quiet", "--set", "stride=4", "--set", "epochs=2", "--set", "val_fraction=0",
          "--cache", str(tmp_path / "c")])
    rec = data / "20170101" / "raw" / "20170101_p1_light1.csv.gz"
    html = build_report(tmp_path / "tl", tmp_path / "r.html", video=rec).read_text()
    assert "data:video/webm;base64," in html and "id=bar" in html and html.count("class=seg") >= 1
