"""A new kind of composite part, defined here and nowhere in actline: a temperature-scaling wrapper with
its own small JSON file. Registered with ``actline.modeldir.parts.register``, it is saved by the normal
writer (``parts.save`` and ``write_model_dir``, as a run writes its model), loaded by ``actline.load``,
and exported by ``actline export`` (its file beside an outside export, checksummed), with no change to
any existing source file. Unregistered, the registry forgets it.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import actline
from actline.cli import main
from actline.core.errors import ActlineError
from actline.data import load_dataset
from actline.modeldir import parts
from actline.modeldir.directory import CONFIG, WEIGHTS, write_model_dir
from actline.modeldir.parts.class_guard import RareClassGuard

NAME, FILE = "temperature", "temperature.json"


class TemperatureScaled:
    """Probabilities sharpened or flattened by a temperature: p ** (1 / T), renormalised."""

    def __init__(self, inner, temperature: float):
        self.inner, self.temperature = inner, float(temperature)
        self.num_classes, self.feature_dim = inner.num_classes, inner.feature_dim

    def probs(self, windows, rooms=None):
        p = np.power(np.clip(self.inner.probs(windows, rooms), 1e-12, 1.0), 1.0 / self.temperature)
        return p / p.sum(axis=1, keepdims=True)

    def features(self, windows):
        return self.inner.features(windows)

    def __getattr__(self, name):  # whatever else the wrapped classifier offers
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)


def _load(classifier, source):
    settings = json.loads(source.file(FILE).read_text(encoding="utf-8"))
    return TemperatureScaled(classifier, settings["temperature"])


def _save(scaled):
    body = json.dumps({"temperature": scaled.temperature})
    return {NAME: {"file": FILE}}, {FILE: lambda path: path.write_text(body, encoding="utf-8")}


PART = parts.Part(NAME, lambda config: bool(config.get(NAME)), _load, order=90, kind=TemperatureScaled,
                  files=lambda config, backend: [FILE], save=_save, export=lambda job: job.copy(FILE), keys=(NAME,))


@pytest.fixture
def registered():
    parts.register(PART)
    try:
        yield PART
    finally:
        parts.unregister(NAME)


@pytest.fixture(scope="module")
def cnn_run(synth_dir, tmp_path_factory):
    run = tmp_path_factory.mktemp("newpart") / "run"
    main(["train", "--data", str(synth_dir), "--out", str(run), "--quiet", *(a for s in (
        "epochs=1", "num_threads=1", "room_gate.threshold=0", "model_kwargs={widths: [4, 8, 8, 8]}")
        for a in ("--set", s))])
    return run


@pytest.mark.slow
def test_a_part_defined_outside_actline_saves_loads_and_exports(registered, cnn_run, synth_dir, tmp_path):
    base = actline.load(cnn_run / "model")
    guard = base.classifier  # the CNN behind the rare-class guard; ours goes between them (order 90 < 100)
    scaled = RareClassGuard(TemperatureScaled(guard.inner, 2.0), guard.factors, guard.min_examples)
    part_config, part_files = parts.save(scaled)  # every part found in the classifier: the guard, and ours
    assert part_config[NAME] == {"file": FILE} and "class_guard" in part_config and set(part_files) == {FILE}
    config = json.loads((cnn_run / "model" / CONFIG).read_text())
    config = {k: v for k, v in config.items() if k not in ("format", "weights_sha256", "class_guard")}
    model = tmp_path / "model"
    write_model_dir(model, {**config, **part_config},
                    {WEIGHTS: lambda p: shutil.copyfile(cnn_run / "model" / WEIGHTS, p), **part_files})

    loaded = actline.load(model)
    assert parts.find(loaded.classifier, TemperatureScaled).temperature == 2.0
    rec = next(iter(load_dataset(synth_dir).recordings.values()))
    centres = list(range(40, rec.n_frames - 40, 97))
    windows = base.rule.cut_many(rec, centres)
    np.testing.assert_allclose(loaded.classifier.probs(windows), scaled.probs(windows), atol=1e-6)
    got = [p.confidence for _, _, p in loaded.predict_recording(rec, centres=centres)]
    np.testing.assert_allclose(got, scaled.probs(windows).max(axis=1), atol=1e-6)
    assert np.abs(np.asarray(got) - guard.probs(windows).max(axis=1)).max() > 1e-3  # the temperature acts

    outside = tmp_path / "deploy" / "model.onnx"
    outside.parent.mkdir()
    main(["export", str(model), "--out", str(outside)])
    assert (outside.parent / f"model.{FILE}").is_file() and (outside.parent / f"model.{FILE}.sha256").is_file()
    exported = actline.load(outside)
    assert parts.find(exported.classifier, TemperatureScaled).temperature == 2.0
    np.testing.assert_allclose(exported.classifier.probs(windows), scaled.probs(windows), atol=1e-4)

    (outside.parent / f"model.{FILE}").write_text('{"temperature": 9.0}')  # a changed companion is refused
    with pytest.raises(ActlineError, match=FILE):
        actline.load(outside)

    parts.unregister(NAME)
    assert parts.find(actline.load(model).classifier, TemperatureScaled) is None  # the registry drives loading
