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
    # a CNN on raw temperatures: gated, with a static-heat fallback CNN and shape trees
    ((40, 60), [], (0.5, "static-heat", "static-heat")),
    ((16, 16), [], (0.0, "none", "none")),  # static-heat windows: the gate reads the raw room, so off
    ((40, 60), ["model=features"], (0.0, "none", "none")),  # the trees need no fallback on themselves
    ((40, 60), ["room_gate=0.5"], (0.5, "static-heat", "static-heat")),
    ((40, 60), ["gate_fallback=none"], (0.5, "none", "static-heat")),  # the CNN itself in the fusion, as in 0.4.0
    ((40, 60), ["room_gate.shape=none"], (0.5, "static-heat", "none")),  # the fallback with the trees, as in 0.5.0
])
def test_the_room_gate_is_on_for_cnns_on_raw_temperatures(shape, sets, want):
    from actline.train.config import resolve_defaults

    cfg = resolve_defaults(load_config(None, sets), shape).validate()
    assert (cfg.room_gate.threshold, cfg.room_gate.fallback, cfg.room_gate.shape) == want


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
    with pytest.raises(ActlineError, match="room_gate.shape must be one of none, recording-median, static-heat"):
        load_config(None, ["room_gate.shape=mean"])


def test_set_errors_name_the_key_and_what_it_expects():
    with pytest.raises(ActlineError, match=r"^--set: epochs expects an integer, got 'ten'$"):
        load_config(None, ["epochs=ten"])
    with pytest.raises(ActlineError, match=r"^--set: window.fps expects a number, got 'fast'$"):
        load_config(None, ["window.fps=fast"])
    with pytest.raises(ActlineError, match=r"^--set: amp expects true or false, got 'maybe'$"):
        load_config(None, ["amp=maybe"])
    with pytest.raises(ActlineError, match=r"unknown setting 'epoch'; did you mean epochs\?$"):
        load_config(None, ["epoch=3"])
    with pytest.raises(ActlineError, match=r"unknown setting 'window.lenght'; did you mean window.length\?$"):
        load_config(None, ["window.lenght=3"])
    with pytest.raises(ActlineError, match=r"unknown setting 'zzz'$"):  # nothing close: no list of 45 names
        load_config(None, ["zzz=3"])


def test_old_flat_spellings_still_work_with_one_line_each_on_stderr(tmp_path, capsys):
    from actline.train import config_io as settings

    settings._warned.clear()
    old = ["window=24", "window_mode=time", "window_fps=6", "background=none", "room_gate=0.2",
           "gate_fallback=none", "fusion_cnn=thermal_frame_tcn", "fusion_cnn_weight=0.7"]
    new = ["window.length=24", "window.mode=time", "window.fps=6", "window.background=none",
           "room_gate.threshold=0.2", "room_gate.fallback=none", "fusion.cnn=thermal_frame_tcn",
           "fusion.cnn_weight=0.7"]
    a, given_a = load_config(None, old)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == len(old) and all("is deprecated, write" in line for line in lines)
    assert "--set: 'window_mode' is deprecated, write 'window.mode'" in lines[1]
    b, given_b = load_config(None, new)
    assert a == b and given_a == given_b == {"window", "room_gate", "fusion"}
    assert capsys.readouterr().err == ""
    path = tmp_path / "c.yaml"
    path.write_text("window: 24\nbackground: none\n")  # a YAML file the user wrote in 0.4's spelling
    c, _ = load_config(path)
    assert (c.window.length, c.window.background) == (24, "none")
    assert "c.yaml: 'background' is deprecated" in capsys.readouterr().err


def test_saved_configs_in_the_old_spelling_are_read_silently(capsys):
    from actline.train.config import read_saved

    cfg = read_saved({"window": 16, "window_mode": "index", "window_fps": 10.0, "background": "static-heat",
                      "room_gate": 0.0, "gate_fallback": "none", "explicit": ["window"]}, "model/config.json")
    assert (cfg.window.length, cfg.window.background, cfg.room_gate.threshold) == (16, "static-heat", 0.0)
    assert capsys.readouterr().err == ""


def test_resolve_defaults_returns_a_new_config_and_leaves_its_argument_alone():
    import copy

    from actline.train.config import TrainConfig, resolve_defaults

    loaded = load_config(None, ["model=slowfast_r50"])
    before = copy.deepcopy(loaded.config)
    resolved = resolve_defaults(loaded, (40, 60))
    assert loaded.config == before and loaded.config.window.length is None
    assert resolved is not loaded.config and resolved.window.length == 32 and resolved.lr == pytest.approx(5e-4)
    resolved.augment.hflip = 0.0
    assert loaded.config.augment.hflip == 0.5  # nothing shared that a later change could reach
    assert TrainConfig(window=16).window.length == 16  # 0.4's keyword spelling still builds a config


def test_each_engine_default_is_written_once():
    from actline.train.config import EngineConfig, TrainConfig
    from actline.train.timeline_fit import TimelineConfig

    for name in ("lr", "weight_decay", "optimizer", "momentum", "warmup_epochs", "grad_clip", "patience", "amp",
                 "device"):
        assert getattr(TrainConfig(), name) == getattr(EngineConfig, name), name
    assert TimelineConfig().grad_clip == EngineConfig.grad_clip
    assert TimelineConfig().engine(3).grad_clip == EngineConfig.grad_clip
    with pytest.raises(TypeError):
        EngineConfig()  # how long to train is each pipeline's own setting
    from actline.train.config_io import load_settings

    assert load_settings(TimelineConfig(), None, ["background_class=none", "grad_clip=1"]).background_class == "none"
