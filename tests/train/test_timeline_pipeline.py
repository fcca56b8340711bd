"""End to end: synthetic clips -> two-stage timeline model -> timelines of unseen long videos -> scores."""

import json

import numpy as np
import pytest

from actline.cli import main
from actline.data.segments import load_labels, read_segments
from actline.evaluate.timelines import score_timelines


def test_training_writes_the_earlier_systems_layout_and_honest_metrics(timeline_model):
    model = timeline_model
    reg = json.loads((model / "stage2" / "stage2_registry.json").read_text())
    assert reg["mount"]["model"] == "stage2/mount" and reg["apply"]["model"] == "stage2/apply"
    assert reg["wait"] == {"fine_labels": ["wait_idle_nva"], "model": None, "direct": "wait_idle_nva"}
    for d in ("stage1", "stage2/mount", "stage2/apply", "backbone"):
        assert (model / d / "model.safetensors").is_file() and (model / d / "config.json").is_file()
    assert json.loads((model / "stage1" / "label_map.json").read_text())["mount"] >= 0
    m = json.loads((model / "metrics.json").read_text())
    # Measured (benchmarks/timeline_test_spread.py: generator seeds 1-8, OMP/torch threads 1 and 2 for seeds
    # 1-5, 13 runs): held-out coarse clip accuracy 100 in every run (majority 28.6), so majority + 30 leaves 41
    # points (6 of 14 clips). Fine accuracy of both stages 92.9-100: a stage 2 that always answers one fine
    # label per family scores 71.4 here (10 of 14 clips), so the bound of 75 fails it, and still allows 2 more
    # wrong clips than the worst run seen.
    assert m["held_out_clips"] > 0 and m["stage1"]["clip_accuracy"] > m["stage1"]["majority"] + 30
    assert m["two_stage_fine_clip_accuracy"] > 75, m


def test_long_videos_become_accurate_timelines(timeline_model, rgb, tmp_path, capsys):
    out = tmp_path / "tl"
    main(["timeline", str(timeline_model), str(rgb / "long"), "--out", str(out), "--quiet", "--cache", str(rgb / "cache"),
          "--format", "json", "--format", "csv", "--format", "srt", "--format", "frames", "--format", "overlay"])
    assert "2 input(s)" in capsys.readouterr().out
    for gt in sorted((rgb / "long").glob("*.csv")):
        truth = load_labels(gt, fps=8)
        segs = read_segments(out / f"{gt.stem}.json")
        assert all(s.fine.startswith(s.label) and s.value_category in ("VA", "RNVA", "NVA") for s in segs)
        assert (out / f"{gt.stem}.srt").read_text().startswith("1\n00:00:00,000 --> ")
        assert len((out / f"{gt.stem}.txt").read_text().split()) == pytest.approx(len(truth), abs=8)
        assert (out / f"{gt.stem}_overlay.mp4").stat().st_size > 10_000
    c, f = long_video_scores(out, rgb)
    # Measured with benchmarks/timeline_test_spread.py (each run generates its data and trains its own model;
    # generator seeds 1-5 under OMP/torch threads 1 and 2, seeds 6-8 under 1 thread; 13 runs):
    #   coarse: accuracy 82.6-92.5, Edit 85.7-100, F1@50 88.9-100 (this fixture, seed 1: 82.6 / 93.8 / 90.9);
    #   fine:   accuracy 62.4-87.3, Edit 76.2-100, F1@50 66.7-100.
    # Threads moved single runs by up to 3.5 points (seed 3: coarse accuracy 85.3 vs 88.8). 16 segments over
    # the two videos, so one segment moves Edit or F1 by ~6 points. Coarse bounds sit 12-19 points under the
    # lowest value seen; one segment of the majority family per video scores accuracy 31, Edit 13, F1@50 0.
    # Coarse accuracy is held near 85 by a ~1 s lag of every boundary: the random thermal_r2plus1d backbone
    # weighs a chunk's first frames most (see docs/timeline.md); 1 s earlier, seed 4 goes from 88.8 to 97.5.
    # The fine level is bounded honestly, 16-17 points under the lowest value seen: two same-family steps in a
    # row merge into one coarse segment, which gets one fine label, and the ground truth with one fixed fine
    # label per family already scores Edit 58-80 and F1@50 50-80 on these seeds. So it checks that fine labels
    # stay consistent with the coarse timeline; stage 2 itself is judged on held-out clips (the test above).
    assert c["edit_mean"] >= 70 and c["f1@0.5"] >= 70 and c["acc"] >= 70, c
    assert f["edit_mean"] >= 60 and f["f1@0.5"] >= 50, f
    main(["analyze", str(out), "--out", str(tmp_path / "an")])
    summary = json.loads((tmp_path / "an" / "summary.json").read_text())
    assert summary["timelines"] == 2 and abs(sum(v["share"] for v in summary["value_categories"].values()) - 100) < 1e-6


def long_video_scores(timelines, rgb) -> tuple[dict, dict]:
    """Coarse and fine scores of the timelines of the two long videos (``actline score``, sampled at 8 fps)."""
    return tuple(score_timelines(timelines, rgb / "long", fps=8, level=level).aggregate() for level in ("label", "fine"))


def test_smoothing_reduces_fragmentation(timeline_model, rgb):
    from actline.features.cache import FeatureCache
    from actline.infer.timeline_pipeline import Decoding, TimelinePipeline

    tm = TimelinePipeline.load(timeline_model)
    feats = tm.features(rgb / "long" / "video_00.mp4", FeatureCache(rgb / "cache"))
    raw, _ = tm.timeline(feats, Decoding(median=1, switch_penalty=0, min_segment_s=0))
    smooth, _ = tm.timeline(feats)
    assert len(smooth) <= len(raw)
    assert np.isclose(smooth[-1].end_s, feats.times[-1, 1]) and smooth[0].start_s == 0


def test_wrong_model_kinds_and_bad_inputs_are_refused(timeline_model, rgb, tmp_path, synth_dir):
    import subprocess
    import sys

    def run(*args):
        return subprocess.run([sys.executable, "-m", "actline.cli", *args], capture_output=True, text=True)

    p = run("predict", str(timeline_model), str(synth_dir))
    assert p.returncode == 2 and "'timeline' model" in p.stderr
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 100)
    p = run("timeline", str(timeline_model), str(junk), "--out", str(tmp_path / "o"), "--quiet")
    assert p.returncode == 2 and "junk.mp4" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o" / "junk.json").exists()
    p = run("train-timeline", "--data", str(tmp_path), "--out", str(tmp_path / "m"), "--quiet")
    assert p.returncode == 2 and "no clips found" in p.stderr and not (tmp_path / "m").exists()
    p = run("timeline", str(timeline_model), str(rgb / "long"), "--format", "gif")
    assert p.returncode == 2 and "--format: unknown value 'gif'" in p.stderr


def test_timeline_model_exports_to_onnx_with_parity(timeline_model, tmp_path):
    pytest.importorskip("onnxruntime")
    import onnxruntime as ort

    from actline.apps.onnx_export import export_model
    from actline.features.backbone import load_backbone_dir

    r = export_model(timeline_model, tmp_path / "onnx")
    assert r["max_abs_diff"] <= 1e-4
    files = sorted(p.relative_to(tmp_path / "onnx").as_posix() for p in (tmp_path / "onnx").rglob("*.onnx"))
    assert files == ["backbone.onnx", "stage1.onnx", "stage2/apply.onnx", "stage2/mount.onnx"]
    s1 = ort.InferenceSession(str(tmp_path / "onnx" / "stage1.onnx"), providers=["CPUExecutionProvider"])
    dim = load_backbone_dir(timeline_model / "backbone").dim
    for t in (7, 93):  # any sequence length
        p = s1.run(None, {"input": np.random.default_rng(t).normal(size=(1, t, dim)).astype(np.float32)})[0]
        assert p.shape == (1, t, 5) and np.allclose(p.sum(-1), 1, atol=1e-5)


def test_exported_timeline_runs_with_onnx_runtime_alone(timeline_model, rgb, tmp_path):
    pytest.importorskip("onnxruntime")
    import subprocess
    import sys

    from actline.apps.onnx_export import export_model
    from actline.features.cache import FeatureCache
    from actline.infer.timeline_pipeline import TimelinePipeline

    export_model(timeline_model, tmp_path / "onnx")
    video = rgb / "long" / "video_00.mp4"
    tm = TimelinePipeline.load(timeline_model)
    want, _ = tm.timeline(tm.features(video, FeatureCache(rgb / "cache")))
    code = f"""
import json, sys
import actline
segs = actline.load({str(tmp_path / "onnx")!r}).run({str(video)!r})
print(json.dumps([[s.start_s, s.end_s, s.label, s.fine, s.value_category] for s in segs]))
print(sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "torchvision")))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    got, modules = proc.stdout.strip().splitlines()
    assert modules == "[]"
    got = json.loads(got)
    assert [g[2:] for g in got] == [[s.label, s.fine, s.value_category] for s in want]
    assert np.allclose([g[:2] for g in got], [[s.start_s, s.end_s] for s in want])
    main(["timeline", str(tmp_path / "onnx"), str(video), "--out", str(tmp_path / "tl"), "--quiet"])
    assert [s.label for s in read_segments(tmp_path / "tl" / "video_00.json")] == [s.label for s in want]
