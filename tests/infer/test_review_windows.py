"""`actline predict --review DIR`: the recording's most uncertain windows become review items the queue reads."""

import json

import numpy as np
import pytest

from actline.cli import main
from actline.data.labels.review_queue import read_item_frames, read_items
from actline.data.thermal_h5 import read_recording_h5, write_recording_h5


@pytest.fixture(scope="module")
def model_and_recording(tmp_path_factory):
    import torch

    from actline.modeldir.directory import save_model_dir
    from actline.models import create_model

    root = tmp_path_factory.mktemp("review")
    torch.manual_seed(0)
    model = create_model("thermal_r2plus1d", num_classes=3).eval()
    cfg = {"pipeline": "clip-classifier", "arch": model.arch, "classes": ["c0", "c1", "c2"],
           "window": {"length": 8, "mode": "index", "fps": 10.0}, "preprocessing": {"frame_shape": [16, 16]}}
    model_dir = save_model_dir(root / "model", model, cfg)
    frames = (20 + np.random.default_rng(1).normal(0, 1.0, (120, 16, 16))).astype(np.float32)
    ts = 1_700_000_000_000 + np.cumsum(np.r_[0, np.random.default_rng(2).integers(60, 140, 119)])
    rec = write_recording_h5(root / "SL14_R9.h5", frames, ts, "SL14_R9")
    return model_dir, rec


def test_predict_review_adds_the_least_certain_windows(model_and_recording, tmp_path, capsys, one_thread):
    model, rec_path = model_and_recording
    queue = tmp_path / "queue"
    main(["predict", str(model), str(rec_path), "--stride", "4", "--json", "--review", str(queue), "--review-count", "5"])
    cap = capsys.readouterr()
    preds = [json.loads(line) for line in cap.out.splitlines()]  # stdout stays one prediction per line
    assert "5 uncertain windows added to the review queue" in cap.err
    items = read_items(queue)
    assert len(items) == 5 and {i.source for i in items} == {"uncertain"}
    least = sorted(p["confidence"] for p in preds)[:5]
    assert sorted(round(i.top3[0][1], 4) for i in items) == pytest.approx(least, abs=1e-4)
    rec = read_recording_h5(rec_path)
    sha = json.loads((model / "config.json").read_text())["weights_sha256"]
    for item in items:
        frames, ts = read_item_frames(queue, item.id)
        first = int(np.searchsorted(rec.timestamps, ts[0]))
        assert frames.shape == (8, 16, 16) and np.array_equal(frames, rec.frames[first:first + 8])
        assert np.array_equal(ts, rec.timestamps[first:first + 8])  # the sensor's clock
        assert item.start_s == pytest.approx(ts[0] - rec.timestamps[0]) and item.end_s == pytest.approx(ts[-1] - rec.timestamps[0])
        assert (item.recording, item.model, item.data) == ("SL14_R9", sha, None)
        assert len(item.top3) == 3 and item.top3[0][1] >= item.top3[1][1] >= item.top3[2][1]


def test_predict_takes_several_recordings(model_and_recording, tmp_path, capsys, one_thread):
    """``actline predict MODEL REC1 REC2``: one table per recording, or JSON lines naming each window's recording."""
    model, rec_path = model_and_recording
    other = read_recording_h5(rec_path)
    second = write_recording_h5(tmp_path / "SL15_R1.h5", other.frames[:60], other.timestamps[:60], "SL15_R1")
    main(["predict", str(model), str(rec_path), str(second), "--stride", "8", "--json"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r for r in dict.fromkeys(x["recording"] for x in lines)] == ["SL14_R9", "SL15_R1"]
    alone = {}
    for path in (rec_path, second):
        main(["predict", str(model), str(path), "--stride", "8", "--json"])
        alone[path.stem] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines == alone["SL14_R9"] + alone["SL15_R1"]
    main(["predict", str(model), str(rec_path), str(second), "--stride", "8", "--table", "tsv"])
    captured = capsys.readouterr()
    assert captured.err.count("windows (sliding)") == 2 and "SL15_R1.h5: " in captured.err  # titles on stderr
    assert captured.out.count("frame\ttime s\tprediction") == 2
