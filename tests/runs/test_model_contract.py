"""The contract between training and inference, for every kind of model and every background mode.

What ``actline train`` wrote to ``RUN/predictions.csv`` for the held-out keyframes is what
``actline.load(RUN/model)`` predicts for them (class, and confidence to 1e-4), on 16x16 and 40x60
frames: the window rule, the parts (fusion, room gate and its fallback CNN, the class guard) and the
main weights are saved and read back as one. And a thermal encoder's features (feature extraction,
timelines) are cut by the same rule: its own head over ``actline.features.extract.extract`` equals the
CNN on windows cut by ``rule.cut_many`` (before the window rule, static-heat encoders were given
windows with nothing removed). Tiny models, one epoch, tiny synthetic data.
"""

from __future__ import annotations

import csv
import shutil
from collections import defaultdict

import numpy as np
import pytest
import torch

import actline
from actline.cli import main
from actline.data import load_dataset
from actline.data.synth.thermal_set import SynthConfig, generate_thermal_dataset

pytestmark = pytest.mark.slow

SIZES = {"16x16": (16, 16), "40x60": (40, 60)}
BACKGROUNDS = ("none", "recording-median", "static-heat")
TINY = ["epochs=1", "batch_size=32", "num_threads=1", "model_kwargs={widths: [4, 8, 8, 8]}", "estimator=logistic",
        "augment.temporal_jitter=0"]
# kind -> (settings, the backgrounds it takes); the CNN alone has its room gate off, the gated CNN always fuses
KINDS = {
    "cnn": (["model=thermal_r2plus1d_lite", "room_gate.threshold=0"], BACKGROUNDS),
    "features": (["model=features"], BACKGROUNDS),
    "fusion": (["model=fusion", "fusion.cnn=thermal_r2plus1d_lite"], BACKGROUNDS),
    "auto": (["model=auto"], BACKGROUNDS),
    "gated-cnn": (["model=thermal_r2plus1d_lite", "room_gate.threshold=1", "room_gate.fallback=static-heat"],
                  ("none",)),
}
CASES = [(size, kind, bg) for size in SIZES for kind, (_, bgs) in KINDS.items() for bg in bgs]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """One tiny data set per frame size, 4 recordings of 24 s: 40x60 as generated, and the same shrunk to
    16x16 (the centre 32x48 averaged over 2x3 blocks; keyframe boxes are relative, so they still hold)."""
    made = {}

    def get(size: str):
        if size not in made:
            big = made.get("40x60") or generate_thermal_dataset(
                tmp_path_factory.mktemp("contract40x60") / "data",
                SynthConfig(n_recordings=4, duration_s=24.0, seed=11, keyframe_every_s=2.0))
            made["40x60"] = big
            if size == "16x16":
                made[size] = _shrunk(big, tmp_path_factory.mktemp("contract16x16") / "data")
        return made[size]

    return get


def _shrunk(src, out):
    from actline.data.recordings.thermal_h5_file import read_recording_h5, write_recording_h5

    shutil.copytree(src, out)
    for path in sorted((out / "frames").glob("*.h5")):
        rec = read_recording_h5(path)
        small = rec.frames[:, 4:36, 6:54].reshape(rec.n_frames, 16, 2, 16, 3).mean(axis=(2, 4)).astype(np.float32)
        write_recording_h5(path, small, np.round(rec.timestamps * 1000).astype(np.int64), rec.id)
    return out


def _train(data_dir, run, settings: list[str]) -> None:
    main(["train", "--data", str(data_dir), "--out", str(run), "--quiet",
          *(a for s in [*TINY, *settings] for a in ("--set", s))])


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    """The run of one (size, kind, background), trained once for every test that reads it."""
    runs = {}

    def get(size: str, kind: str, background: str):
        key = (size, kind, background)
        if key not in runs:
            runs[key] = tmp_path_factory.mktemp("-".join(key)) / "run"
            _train(data(size), runs[key], [*KINDS[kind][0], f"window.background={background}"])
        return runs[key]

    return get


def _written(run) -> dict[str, list[tuple[int, str, float]]]:
    """predictions.csv by recording: (frame, predicted class, confidence), in file order."""
    rows = defaultdict(list)
    with open(run / "predictions.csv", newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            rows[r["recording_id"]].append((int(r["frame_idx"]), r["pred"], float(r["confidence"])))
    return rows


@pytest.mark.parametrize("size,kind,background", CASES, ids=[f"{s}-{k}-{b}" for s, k, b in CASES])
def test_the_loaded_model_predicts_what_training_wrote(data, trained, size, kind, background):
    run = trained(size, kind, background)
    written = _written(run)
    assert written, "the run held recordings out"
    ds, model = load_dataset(data(size)), actline.load(run / "model")
    assert model.rule.background == background
    for rid, rows in written.items():
        got = model.predict_recording(ds.recordings[rid], centres=[f for f, _, _ in rows], k=1)
        assert [p.label for _, _, p in got] == [c for _, c, _ in rows], rid
        assert max(abs(p.confidence - conf) for (_, _, p), (_, _, conf) in zip(got, rows)) <= 1e-4, rid


@pytest.mark.parametrize("settings", [
    ["model=thermal_r2plus1d_lite", "room_gate.threshold=0.3", "window.background=static-heat"],
    ["model=thermal_r2plus1d_lite", "room_gate.threshold=0.3", "window.background=recording-median"],
    ["model=features", "room_gate.threshold=0.3"],
    ["model=fusion", "room_gate.threshold=0.3"],
], ids=["gate-static-heat", "gate-recording-median", "gate-features", "gate-fusion"])
def test_kinds_that_cannot_take_a_setting_are_refused_in_one_line(data, tmp_path, capsys, settings):
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        _train(data("16x16"), tmp_path / "run", settings)
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and "room_gate applies to CNNs on raw temperatures" in err
    assert len(err.splitlines()) == 1 and not (tmp_path / "run").exists()


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("background", BACKGROUNDS)
def test_a_thermal_encoders_features_are_cut_by_its_own_rule(data, trained, size, background):
    from actline.data.video import VideoSpec
    from actline.features.backbone import build_backbone
    from actline.features.extract import extract
    from actline.models.contract import TorchClassifier
    from actline.models.registry import model_info

    run = trained(size, "cnn", background)
    backbone = build_backbone(str(run / "model"))
    assert backbone.window == actline.load(run / "model").rule
    rec = next(iter(load_dataset(data(size)).recordings.values()))
    stride = 5
    feats = extract(rec, backbone, VideoSpec(8.0, 16, backbone.window.length, stride))
    head = getattr(backbone.model, model_info(backbone.name).head)
    with torch.inference_mode():
        own = torch.softmax(head(torch.from_numpy(feats.x)), dim=1).numpy()
    centres = backbone.window.centres(rec.n_frames, stride)
    cnn = TorchClassifier(backbone.model.eval(), "cpu").probs(backbone.window.cut_many(rec, centres))
    assert own.shape == cnn.shape and np.abs(own - cnn).max() < 1e-4
