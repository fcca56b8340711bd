import pytest

from actline.core.errors import ActlineError
from actline.train.config import load_config


def test_yaml_then_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model: thermal_frame_tcn\nlr: 0.01\naugment:\n  hflip: 0.0\n")
    cfg, given = load_config(path, ["lr=0.5", "augment.vflip=0", "model_kwargs={dropout: 0.1}", "seeds=3"])
    assert given == {"model", "lr", "augment", "model_kwargs", "seeds"}
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
    with pytest.raises(ActlineError, match=r"prior_power must be in \[0, 2\]"):
        load_config(None, ["prior_power=3"])


@pytest.mark.parametrize("shape,sets,want", [
    ((16, 16), [], (16, "index", 10.0, "static-heat")),  # Nagoya-like arrays: 16 frames at ~10 fps
    ((40, 60), [], (32, "time", 4.0, "none")),  # 6-30 fps in bursts: 8 s by time, raw temperatures
    ((40, 60), ["window=16"], (16, "index", 10.0, "none")),  # a length given alone counts frames
    ((40, 60), ["window_mode=index", "background=recording-median"], (32, "index", 4.0, "recording-median")),
    ((16, 16), ["background=none"], (16, "index", 10.0, "none")),  # "none" is a choice, not "unset"
])
def test_windows_and_background_come_from_the_data_unless_set(shape, sets, want):
    from actline.train.config import resolve_defaults

    cfg = resolve_defaults(load_config(None, sets), shape).validate()
    assert (cfg.window.length, cfg.window.mode, cfg.window.fps, cfg.window.background) == want


def test_a_models_own_recipe_never_overrides_the_user():
    from actline.train.config import resolve_defaults

    assert resolve_defaults(load_config(None, ["model=slowfast_r50"]), (16, 16)).lr == pytest.approx(5e-4)
    assert resolve_defaults(load_config(None, ["model=slowfast_r50", "lr=0.01"]), (16, 16)).lr == 0.01


@pytest.mark.parametrize("shape,sets,want", [
    ((40, 60), [], (0.3, "static-heat")),  # a CNN on raw temperatures: gated, with a static-heat fallback CNN
    ((16, 16), [], (0.0, "none")),  # static-heat windows: the gate reads the raw room, so off
    ((40, 60), ["model=features"], (0.0, "none")),  # the trees need no fallback on themselves
    ((40, 60), ["room_gate=0.5"], (0.5, "static-heat")),
    ((40, 60), ["gate_fallback=none"], (0.3, "none")),  # the CNN itself in the fusion, as in 0.4.0
])
def test_the_room_gate_is_on_for_cnns_on_raw_temperatures(shape, sets, want):
    from actline.train.config import resolve_defaults

    cfg = resolve_defaults(load_config(None, sets), shape).validate()
    assert (cfg.room_gate.threshold, cfg.room_gate.fallback) == want


def test_a_room_gate_that_cannot_work_is_refused():
    from actline.train.config import resolve_defaults

    with pytest.raises(ActlineError, match=r"room_gate.threshold must be in \[0, 1\]"):
        load_config(None, ["room_gate=2"])
    with pytest.raises(ActlineError, match=r"room_gate applies to CNNs on raw temperatures \(background none"):
        resolve_defaults(load_config(None, ["room_gate=0.3"]), (16, 16)).validate()
    with pytest.raises(ActlineError, match="room_gate applies to CNNs on raw temperatures"):
        load_config(None, ["model=fusion", "room_gate=0.3"])
    with pytest.raises(ActlineError, match="room_gate.fallback must be one of none, recording-median, static-heat"):
        load_config(None, ["gate_fallback=mean"])
