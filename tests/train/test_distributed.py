"""Two CPU processes with gloo on loopback: the same training result as one process, the same features."""

import json
import subprocess
import sys

import numpy as np
import pytest

# DDP on 2 ranks with batch B is one process with batch 2B (the learning rate scales with the world
# size): the same samples per step, but each rank's BatchNorm, dropout and augmentation see half of
# them, so results agree statistically, not bit for bit. Spread measured on 2026-11-30 (data seeds 7, the
# fixture's, 8 and 9; the single process at 1 and at 2 threads; 21-22 evaluation windows, so one window is
# 4.5-4.8 points): one and two processes differed by 0-4.8 points (at most one window), two processes beat
# the majority class by 27.3-61.9 points; measured again with the rare-class guard at 40 and at 60 (the default
# since; the same predictions here, every class of this small set being under both): 0-4.8 points apart,
# 27.3-52.3 over the majority class. The bounds leave two more windows, and a margin of
# 10 points.
TOLERANCE_TOP1 = 15.0
MARGIN_OVER_MAJORITY = 10.0


@pytest.mark.slow
def test_two_gloo_processes_train_like_one(small_data, tmp_path):
    common = ["--data", str(small_data), "--quiet", "--split", "given", "--set", "epochs=24", "--set", "window=16",
              "--set", "lr=1.5e-3"]
    one = subprocess.run([sys.executable, "-m", "actline.cli", "train", "--out", str(tmp_path / "one"), *common,
                          "--set", "batch_size=32", "--set", "num_threads=2"], capture_output=True, text=True)
    assert one.returncode == 0, one.stderr
    two = subprocess.run([sys.executable, "-m", "actline.cli", "train", "--out", str(tmp_path / "two"), *common,
                          "--set", "batch_size=16", "--set", "num_threads=1", "--devices", "2"],
                         capture_output=True, text=True, timeout=900)
    assert two.returncode == 0, two.stderr
    a = json.loads((tmp_path / "one" / "metrics.json").read_text())
    b = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert a["n"] == b["n"]  # rank 0 evaluated the whole evaluation set, not a shard
    assert abs(a["top1"] - b["top1"]) <= TOLERANCE_TOP1, (a["top1"], b["top1"])
    assert b["top1"] > b["baselines"]["majority"]["top1"] + MARGIN_OVER_MAJORITY
    hist = json.loads((tmp_path / "two" / "history.json").read_text())[0]["history"]
    assert len(hist) == 24 and hist[-1]["train_loss"] < hist[0]["train_loss"]
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(p.name for p in (tmp_path / "one").iterdir())


@pytest.mark.slow
def test_sharded_feature_extraction_equals_one_process(rgb, tmp_path):
    from actline.data.video import VideoSpec
    from actline.features.backbone import build_backbone
    from actline.features.cache import FeatureCache, extract_many

    files = sorted((rgb / "clips").rglob("*.mp4"))[:8]
    spec = VideoSpec(fps=8, size=32, chunk=8, stride=8)
    r = extract_many(files, "thermal_r2plus1d", None, spec, tmp_path / "shared", workers=2)
    assert r["files"] == 8 and r["misses"] == 8 and r["hits"] == 0  # no file computed twice
    bb = build_backbone("thermal_r2plus1d", None)
    single = FeatureCache(tmp_path / "single")
    shared = FeatureCache(tmp_path / "shared")
    for f in files:
        assert np.allclose(single.get(f, bb, spec).x, shared.get(f, bb, spec).x, atol=1e-5)
    assert shared.hits == 8 and shared.misses == 0  # the workers' entries are the same keys
