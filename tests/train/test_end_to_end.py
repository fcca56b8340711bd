"""Train -> evaluate -> predict on small synthetic data, through the same functions the CLI calls."""

import json

import numpy as np
import pytest
import torch

from actline.cli import main
from actline.data import load_dataset
from actline.data.synth.thermal_set import SynthConfig, generate_thermal_dataset
from actline.infer import Recognizer
from actline.train.clip_fit import fit_classifier
from actline.train.config import TrainConfig, load_config

FAST = ["window=16", "epochs=12", "batch_size=16", "lr=3e-3", "num_threads=2"]


@pytest.mark.slow
def test_train_evaluate_predict(small_data, tmp_path, capsys):
    run = tmp_path / "run"
    main(["train", "--data", str(small_data), "--out", str(run), "--split", "given", "--quiet"]
         + [a for s in FAST for a in ("--set", s)])
    metrics = json.loads((run / "metrics.json").read_text())
    for key in ("top1", "top5", "mean_class_accuracy", "macro_f1", "n", "baselines", "ci95", "split"):
        assert key in metrics
    assert set(metrics["baselines"]) >= {"majority", "chance", "classical", "nearest_in_time"}
    assert metrics["split"]["name"] == "given" and metrics["split"]["overlapping_eval"] > 0
    # Spread measured with this recipe on data seeds 7, 8, 9 under 1 and 2 threads (6 runs, default recipe of
    # 2026-11-30 with the rare-class guard at 40, and again at 60): top-1 beat the majority baseline by 22.7-57.1 points, mean
    # class accuracy by 37.5-55.0; the bounds below keep a margin of more than 12 points under the lowest seen.
    assert metrics["top1"] >= metrics["baselines"]["majority"]["top1"] + 10
    assert metrics["mean_class_accuracy"] >= metrics["baselines"]["majority"]["mean_class_accuracy"] + 20
    lo, hi = metrics["ci95"]["top1"]
    assert lo <= metrics["top1"] <= hi
    for name in ("config.yaml", "history.json", "curves.png", "confusion.png", "model/model.safetensors",
                 "model/config.json"):
        assert (run / name).exists(), name
    text = capsys.readouterr().out
    assert "majority" in text and "classical" in text and "WARNING" in text

    # the saved model reproduces the run's figures
    main(["evaluate", str(run / "model"), "--data", str(small_data), "--out", str(tmp_path / "m.json")])
    again = json.loads((tmp_path / "m.json").read_text())
    assert again["top1"] == pytest.approx(metrics["top1"], abs=1e-6)

    # Python API and CLI predictions on a recording
    rec_path = sorted((small_data / "frames").glob("*.h5"))[0]
    capsys.readouterr()
    main(["predict", str(run / "model"), str(rec_path), "--json"])
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    ds = load_dataset(small_data)
    keyframes = [s for s in ds.samples if s.recording_id == rec_path.stem]
    assert len(lines) == len(keyframes) and all("true" in x for x in lines)
    recog = Recognizer.load(run / "model")
    rec = ds.recordings[rec_path.stem]
    p = recog.predict(rec.frames[keyframes[0].frame_idx - 8: keyframes[0].frame_idx + 8], room=rec.empty_room())
    assert p.label == lines[0]["label"] and p.confidence == pytest.approx(lines[0]["confidence"], abs=1e-3)
    t_key = float(rec.timestamps[keyframes[0].frame_idx])
    assert lines[0]["timestamp_s"] == pytest.approx(t_key, abs=1e-3)  # the recording's clock
    assert lines[0]["time_s"] == pytest.approx(t_key - float(rec.timestamps[0]), abs=1e-3)  # from its first frame
    main(["predict", str(run / "model"), str(rec_path), "--stride", "20", "--json"])
    sliding = capsys.readouterr().out.splitlines()
    assert len(sliding) == len(range(8, rec.n_frames - 8 + 1, 20))


def test_early_stopping_and_options_run():
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(20, 1, size=(24, 1, 12, 8, 8)).astype(np.float32))
    y = np.arange(24) % 3
    cfg = load_config(None, ["window=8", "epochs=30", "patience=2", "batch_size=8", "loss=focal",
                             "sampler=balanced", "optimizer=sgd", "early_stop_metric=loss"])
    from actline.models import create_model

    res = fit_classifier(create_model("thermal_frame_tcn", num_classes=3), x, y, x[:, :, 2:10], y, cfg, 3, seed=0)
    assert res.stopped_early and len(res.history) < 30 and 1 <= res.best_epoch <= len(res.history)
    assert all(np.isfinite(r["train_loss"]) for r in res.history)


def test_train_bad_data_dir_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "r")])
    assert exc.value.code == 2
    assert TrainConfig().split == "by-recording"


def test_seed_ensemble_is_one_model_dir(small_data, tmp_path):
    from actline.runs.clip_run import train_run

    cfg = load_config(None, ["window=8", "epochs=1", "seeds=2", "num_threads=2", "background=recording-median"])
    metrics = train_run(small_data, tmp_path / "run", cfg)
    assert metrics["seeds"] == 2 and len(metrics["selection"]["best_epochs"]) == 2
    recog = Recognizer.load(tmp_path / "run" / "model")
    assert recog.config["arch"]["name"] == "ensemble" and len(recog.model.members) == 2
    assert recog.background == "recording-median"
    ds = load_dataset(small_data)
    rec = next(iter(ds.recordings.values()))
    p = recog.predict(rec.frames[:8], room=rec.empty_room())
    assert p.label in ds.classes


def test_same_seed_same_weights(tmp_path):
    from actline.runs.clip_run import train_run

    data = generate_thermal_dataset(tmp_path / "d", SynthConfig(n_recordings=3, duration_s=30.0, seed=4))
    cfg = load_config(None, ["window=8", "epochs=1", "num_threads=1"])
    for name in ("a", "b"):
        train_run(data, tmp_path / name, cfg)
    assert (tmp_path / "a/model/model.safetensors").read_bytes() == (tmp_path / "b/model/model.safetensors").read_bytes()
