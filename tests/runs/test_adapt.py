"""actline adapt: a trained model learns a new room from a calibration session."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import actline
from actline.cli import main
from actline.data.synth.thermal_set import SynthConfig, generate_thermal_dataset

SEED = 141  # a test data set of the realistic preset (reporting seeds are 0-9, tuning seeds 100 and above)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny model trained with one room held out, that room's calibration session, and the data."""
    root = tmp_path_factory.mktemp("adapt")
    data = generate_thermal_dataset(root / "data", SynthConfig(preset="realistic", n_recordings=6, seed=SEED))
    main(["train", "--data", str(data), "--out", str(root / "run"), "--split", "by-location", "--quiet",
          "--set", "epochs=2", "--set", "num_threads=1"])
    held = json.loads((root / "run" / "split.json").read_text())["eval"]["locations"]
    cal = generate_thermal_dataset(root / "cal", SynthConfig(preset="realistic", n_recordings=6, seed=SEED,
                                                             calibration=tuple(held)))
    return root, data, cal, held


@pytest.mark.slow  # ~40 s: trains a tiny model, adapts it twice, exports
def test_a_model_learns_its_new_room_and_says_what_changed(trained, capsys):
    root, data, cal, held = trained
    model = root / "run" / "model"
    rec = data / "frames" / f"{sorted(p.stem for p in (data / 'frames').glob(f'{held[0]}_*'))[0]}.h5"
    before = actline.load(model)
    from actline.data.thermal_h5 import read_recording_h5

    room = read_recording_h5(rec).empty_room()
    assert before.room_report(room)["new"] is True
    main(["adapt", str(model), "--data", str(cal), "--out", str(root / "adapted"), "--eval", str(data), "--replay",
          str(data), "--epochs", "2", "--threads", "1", "--quiet", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert report["locations"] == held and report["room_windows"] > 0 and report["replayed_windows"] > 0
    scores = report["scores"]["new_room"]
    assert {"before", "after", "baselines"} <= set(scores) and scores["before"]["n"] == scores["after"]["n"] > 0
    adapted = actline.load(root / "adapted")
    assert adapted.room_report(room)["new"] is False  # the gate knows the room now: the adapted CNN answers there
    cfg = json.loads((root / "adapted" / "config.json").read_text())
    assert cfg["adapted"]["locations"] == held and cfg["room_gate"]["rooms"] == before_rooms(model) + 1
    # with --replay the trees are refit on the training data and the session, and the gate fuses them with the
    # adapted CNN in the taught room (the last known room)
    assert cfg["room_gate"]["taught"] == [before_rooms(model)] and report["trees"]["windows"] > report["room_windows"]
    assert (root / "adapted" / "trees.onnx").read_bytes() != (model / "trees.onnx").read_bytes()
    assert report["trees"]["shape_trees"] and (root / "adapted" / "shape.onnx").read_bytes() != (model / "shape.onnx").read_bytes()
    # in the taught room the answer is the adapted CNN, the refit trees and the refit shape trees, fused
    from actline.data.window import fill_invalid, remove_background
    from actline.models.contract import fuse_probs

    gate, r = adapted.classifier.inner, read_recording_h5(rec)
    win = fill_invalid(r.frames[adapted.rule.indices(r.timestamps, len(r.frames) // 2)])
    minus = lambda mode: remove_background(win, room, mode)[None]  # noqa: E731
    want = fuse_probs([gate.inner.probs(win[None]), gate.trees.probs(minus("recording-median")),
                       gate.shape.probs(minus("static-heat"))], [1 / 3] * 3)
    np.testing.assert_allclose(gate.probs(win[None], room), want, atol=1e-6)
    # ... and the rare-class guard stands aside there (the session taught the room's classes), while a
    # room the model does not know still gets it
    assert adapted.classifier.factors.min() < 1
    np.testing.assert_allclose(adapted.classifier.probs(win[None], room), want, atol=1e-6)
    elsewhere = room + np.random.default_rng(0).normal(0, 3, room.shape).astype(np.float32)  # edges no room has
    assert gate.known.nearest(elsewhere[None])[0][0] < gate.threshold
    guarded = gate.probs(win[None], elsewhere) * adapted.classifier.factors
    np.testing.assert_allclose(adapted.classifier.probs(win[None], elsewhere), guarded / guarded.sum(), atol=1e-6)
    main(["export", str(root / "adapted")])  # an adapted model exports like any other
    assert (root / "adapted" / "model.onnx").is_file()


def before_rooms(model) -> int:
    return json.loads((model / "config.json").read_text())["room_gate"]["rooms"]


@pytest.mark.slow  # ~15 s
def test_an_interrupted_adaptation_resumes(trained, monkeypatch):
    from actline.runs import adapt_run as adapt_module
    from actline.runs.adapt_run import adapt_model
    from actline.train.adapt_fit import AdaptConfig

    root, data, cal, _ = trained
    out = root / "resumed"
    real = adapt_module._write

    def crash(*a, **k):  # every epoch is checkpointed before the model is written: stop there
        raise KeyboardInterrupt

    monkeypatch.setattr(adapt_module, "_write", crash)
    with pytest.raises(KeyboardInterrupt):
        adapt_model(root / "run" / "model", cal, out, AdaptConfig(epochs=2, num_threads=1))
    assert (out / "checkpoints").is_dir()
    monkeypatch.setattr(adapt_module, "_write", real)
    adapt_model(root / "run" / "model", cal, out, AdaptConfig(epochs=2, num_threads=1), resume=True)
    fresh = root / "fresh"
    adapt_model(root / "run" / "model", cal, fresh, AdaptConfig(epochs=2, num_threads=1))
    assert (out / "model.safetensors").read_bytes() == (fresh / "model.safetensors").read_bytes()


def test_bad_adaptations_get_one_line(trained, tmp_path, capsys):
    root, data, cal, _ = trained
    model = root / "run" / "model"

    def refused(*args) -> str:
        with pytest.raises(SystemExit) as exc:
            main(["adapt", *map(str, args), "--quiet"])
        assert exc.value.code == 2
        return capsys.readouterr().err.strip()

    other = tmp_path / "other"
    shutil.copytree(cal, other)
    for f in (other / "annotations").glob("*.json"):  # a data set whose class "standing" is called "upright"
        f.write_text(f.read_text().replace('"standing"', '"upright"'))
    err = refused(model, "--data", other, "--out", tmp_path / "a")
    assert "upright" in err and "not classes of the model" in err and not (tmp_path / "a").exists()
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")
    assert "--overwrite" in refused(model, "--data", cal, "--out", tmp_path / "busy")
    assert "nothing to resume" in refused(model, "--data", cal, "--out", tmp_path / "b", "--resume")
    assert "layers must be one of" in refused(model, "--data", cal, "--out", tmp_path / "c", "--layers", "middle")


def test_the_help_names_adapts_own_defaults():
    """`actline adapt --help` gives the default epochs that AdaptConfig holds (written once, quoted in the help)."""
    import re

    from typer.testing import CliRunner

    from actline.cli import app
    from actline.train.adapt_fit import AdaptConfig

    text = re.sub(r"[│╭╮╰╯─]", " ", CliRunner().invoke(app, ["adapt", "--help"], terminal_width=200).output)
    assert re.search(rf"Epochs of fine-tuning \(default: {AdaptConfig.epochs}\)", " ".join(text.split())), \
        "the help's default epochs differ from AdaptConfig's"
