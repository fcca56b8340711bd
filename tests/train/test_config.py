import pytest

from actline.core.errors import ActlineError
from actline.train.config import load_config


def test_yaml_then_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model: thermal_frame_tcn\nlr: 0.01\naugment:\n  hflip: 0.0\n")
    cfg = load_config(path, ["lr=0.5", "augment.vflip=0", "model_kwargs={dropout: 0.1}", "seeds=3"])
    assert cfg.model == "thermal_frame_tcn" and cfg.lr == 0.5 and cfg.seeds == 3
    assert cfg.augment.hflip == 0.0 and cfg.augment.vflip == 0.0 and cfg.model_kwargs == {"dropout": 0.1}


def test_bad_configs_name_the_problem(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("lr: [1, 2\n")
    with pytest.raises(ActlineError, match="c.yaml: not valid YAML"):
        load_config(path)
    path.write_text("learning_rate: 0.1\n")
    with pytest.raises(ActlineError, match="unknown setting 'learning_rate'"):
        load_config(path)
    with pytest.raises(ActlineError, match="optimizer must be adamw or sgd"):
        load_config(None, ["optimizer=rmsprop"])
    with pytest.raises(ActlineError, match="expected key=value"):
        load_config(None, ["lr"])
