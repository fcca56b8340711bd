"""The stream's smoothing defaults are written once, in StreamConfig: the command line, the service's
options and the event replay leave them unset, and their help says the same numbers."""

import re
from types import SimpleNamespace

from typer.testing import CliRunner

from actline.apps.stream.event_replay import EvaluateOptions
from actline.apps.stream.run import StreamOptions, stream_config
from actline.cli import app
from actline.infer.stream_config import StreamConfig


def test_options_left_unset_take_the_stream_configs_defaults():
    want = StreamConfig()
    cfg, source = stream_config(SimpleNamespace(classes=["a", "b"]), StreamOptions())
    assert source is None  # no model directory, so no alerts.json
    assert (cfg.ema, cfg.enter, cfg.exit) == (want.ema, want.enter, want.exit)
    assert (EvaluateOptions().ema, EvaluateOptions().enter, EvaluateOptions().exit) == (None, None, None)
    assert StreamConfig.given(ema=0.9, enter=None).ema == 0.9 and StreamConfig.given(enter=None).enter == want.enter


def test_the_help_of_both_commands_names_the_same_defaults():
    want = StreamConfig()
    for command in ("stream", "evaluate-stream"):
        text = " ".join(CliRunner().invoke(app, [command, "--help"], terminal_width=200).output.split())
        text = re.sub(r"[│╭╮╰╯─]", " ", text)
        text = " ".join(text.split())
        for name, value in (("moving average", want.ema), ("enter a state", want.enter), ("is left", want.exit)):
            assert re.search(rf"{name} \(default:? (the model's alerts\.json, else )?{value}\)", text), (command, name)
