"""The everyday workflow on synthetic data: a final model, evaluation on data it never saw, held-out groups,
grouped cross-validation, and runs that refuse to be clobbered. The `features` model keeps these fast."""

import json

import pytest

from actline.cli import main
from actline.data import load_dataset
from actline.data.synth.thermal_set import SynthConfig, generate_thermal_dataset


@pytest.fixture(scope="module")
def other_data(tmp_path_factory):
    """Another synthetic data set with the same classes: recordings no model here was trained on."""
    return generate_thermal_dataset(tmp_path_factory.mktemp("other") / "d", SynthConfig(n_recordings=2, duration_s=40.0,
                                                                                          seed=11))


def test_final_model_then_evaluate_on_new_data(synth_dir, other_data, tmp_path, capsys):
    run = tmp_path / "final"
    main(["train", "--data", str(synth_dir), "--out", str(run), "--final", "--model", "features", "--quiet"])
    m = json.loads((run / "metrics.json").read_text())
    assert m["held_out"] is None and "no held-out figure" in m["note"]
    assert "no held-out figure" in capsys.readouterr().out
    split = json.loads((run / "split.json").read_text())
    assert split["n_eval"] == 0 and split["n_train"] == len(load_dataset(synth_dir).samples)
    assert (run / "baselines" / "classical" / "model.onnx").is_file()

    main(["evaluate", str(run / "model"), "--data", str(other_data), "--json"])
    e = json.loads(capsys.readouterr().out)
    assert e["evaluated_on"] == "every sample of a data set the model never saw"
    assert e["n"] == len(load_dataset(other_data).samples) and not e["same_data_as_training"]
    assert set(e["baselines"]) >= {"majority", "chance", "classical"}
    other = load_dataset(other_data)  # every window of another class counted once, in its own room
    assert e["false_falls"]["windows"] == sum("risk" not in other.classes[s.label] for s in other.samples)
    assert set(e["false_falls"]["by_location"]) <= {r.group for r in other.recordings.values()}


def test_holdout_names_the_recordings_held_out(synth_dir, tmp_path, capsys):
    ds = load_dataset(synth_dir)
    held = sorted(ds.recordings)[1]
    run = tmp_path / "h"
    main(["train", "--data", str(synth_dir), "--out", str(run), "--holdout", held, "--model", "features", "--quiet"])
    split = json.loads((run / "split.json").read_text())
    assert split["eval"]["recordings"] == [held] and held not in split["train"]["recordings"]
    assert split["n_eval"] == sum(s.recording_id == held for s in ds.samples)
    capsys.readouterr()
    # evaluate on the training data scores exactly the held-out part again
    main(["evaluate", str(run / "model"), "--data", str(synth_dir), "--json"])
    e = json.loads(capsys.readouterr().out)
    assert e["n"] == split["n_eval"] and e["same_data_as_training"]
    with pytest.raises(SystemExit):
        main(["train", "--data", str(synth_dir), "--out", str(tmp_path / "x"), "--holdout", "nowhere"])
    assert "unknown recording or location" in capsys.readouterr().err


def test_an_existing_run_is_never_clobbered(synth_dir, tmp_path, capsys):
    run = tmp_path / "r"
    args = ["train", "--data", str(synth_dir), "--out", str(run), "--model", "features", "--quiet"]
    main(args)
    before = (run / "metrics.json").read_text()
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2 and "use --resume to continue or --overwrite to start again" in capsys.readouterr().err
    assert (run / "metrics.json").read_text() == before
    (run / "metrics.json").unlink()  # now it looks unfinished: refused the same way
    with pytest.raises(SystemExit):
        main(args)
    assert "an unfinished run" in capsys.readouterr().err
    main(args + ["--overwrite"])
    assert (run / "metrics.json").is_file()


def test_cross_validation_covers_every_window_once(synth_dir, tmp_path, capsys):
    out = tmp_path / "cv"
    main(["cv", "--data", str(synth_dir), "--out", str(out), "--folds", "2", "--model", "features", "--quiet"])
    r = json.loads((out / "cv.json").read_text())
    assert len(r["per_fold"]) == 2 and r["group_by"] == "recording"
    assert r["pooled"]["per_repeat"][0]["n"] == len(load_dataset(synth_dir).samples)
    assert {"top1", "macro_f1"} <= set(r["mean_sd_over_folds"]) and "classical_top1" in r["per_fold"][0]
    assert sum(v["support"] for v in r["per_class_pooled"].values()) == len(load_dataset(synth_dir).samples)
    # the pooled figures lead, beside the pooled baselines; the per-fold table follows
    said = capsys.readouterr().out
    assert said.index("pooled over every held-out window") < said.index("per fold")
    assert {"majority", "classical"} <= set(r["pooled"]["baselines"]) and "majority baseline" in said
    assert r["pooled"]["baselines"]["majority"]["top1"]["mean"] < 100 and r["per_fold"][0]["classes_held_out"] >= 1
    # windows of other classes read as a fall: every such window once, per room, beside the baselines
    ds = load_dataset(synth_dir)
    falls = r["false_falls_pooled"]
    calm = [s for s in ds.samples if "risk" not in ds.classes[s.label]]
    assert falls["windows"] == len(calm) == sum(v["windows"] for v in falls["by_location"].values())
    assert set(falls["by_location"]) == {ds.recordings[s.recording_id].group for s in calm}
    assert {"majority", "classical"} <= set(falls["baselines"]) and "read as a fall" in said
    fold = json.loads((out / "r0" / "fold0" / "metrics.json").read_text())["false_falls"]  # each run's own, too
    assert 0 < fold["windows"] < falls["windows"] and 0 <= fold["share"] <= 100
    page = (out / "report.html").read_text()  # one self-contained page: pooled, per fold with baselines, per class
    assert all(f"id={t}" in page for t in ("pooled", "folds", "per-class", "false-falls")) and "classical" in page
    assert page.count("<tr>") >= 1 + 2 + len(load_dataset(synth_dir).classes)


@pytest.mark.slow
def test_a_nagoya_day_held_out_then_the_model_evaluated_on_it(tmp_path, capsys):
    """Real data: `--holdout DAY` keeps a whole Nagoya day out of training; `evaluate` then scores it."""
    from tests.conftest import shared_path

    data = shared_path("nagoya-fir16")
    run = tmp_path / "nagoya"
    main(["train", "--data", str(data), "--out", str(run), "--holdout", "20170209", "--model", "features", "--quiet"])
    split = json.loads((run / "split.json").read_text())
    assert split["eval"]["locations"] == ["20170209"] and "20170209" not in split["train"]["locations"]
    m = json.loads((run / "metrics.json").read_text())
    # the bound is far below the spread seen: this test's run scored 67.7-68.1% top-1 (majority 21.4%, so a
    # margin of 46.3-46.7 points) with training seeds 0, 1, 2 at 1 and at 2 threads (2026-11-30), and the same
    # trees scored 66.7-68.4% on this day as the classical baseline of 3 seeds of `actline cv`
    assert m["top1"] > m["baselines"]["majority"]["top1"] + 20
    capsys.readouterr()
    main(["evaluate", str(run / "model"), "--data", str(data), "--json"])
    e = json.loads(capsys.readouterr().out)
    assert e["n"] == m["n"] and e["same_data_as_training"]  # its own data: the held-out day, not everything


def test_decision_prior_rides_in_the_model_directory(synth_dir, tmp_path):
    from actline.modeldir.parts.class_guard import RareClassGuard

    run = tmp_path / "prior"
    main(["train", "--data", str(synth_dir), "--out", str(run), "--model", "features", "--quiet",
          "--set", "prior_power=0.5", "--set", "rare_class_min=0"])
    cfg = json.loads((run / "model" / "config.json").read_text())
    counts = cfg["train_class_counts"]
    assert cfg["class_guard"]["prior_power"] == 0.5
    assert cfg["class_guard"]["factors"] == RareClassGuard.factors_for(counts, 0, 0.5)
    assert min(cfg["class_guard"]["factors"]) < 1.0 == max(cfg["class_guard"]["factors"])  # classes differ in size
