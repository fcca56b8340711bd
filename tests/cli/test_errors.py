"""Errors in what a command is given: one line on stderr that names the option or the file at fault and
what is wrong (with the nearest known value for a near miss), and exit code 2."""

from __future__ import annotations

import pytest

from actline.cli import main
from actline.cli.tree import leaf_commands
from actline.core.errors import ActlineError
from actline.data.segments import Segment, write_segments


def _error(capsys, argv: list[str]) -> str:
    """The one line a failing command prints (asserting it is one line and the exit code is 2)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    captured = capsys.readouterr()
    lines = [ln for ln in captured.err.splitlines() if ln.strip()]
    assert len(lines) == 1 and not captured.out.strip(), captured
    return lines[0]


def test_window_options_blame_themselves(synth_dir, capsys):
    base = ["data", "inspect", "--data", str(synth_dir)]
    assert _error(capsys, [*base, "--window-mode", "foo"]) == \
        "error: --window-mode: unknown value 'foo' (choose from index, time)"
    assert _error(capsys, [*base, "--window-mode", "tme"]) == \
        "error: --window-mode: unknown value 'tme'; did you mean 'time'? (choose from index, time)"
    assert _error(capsys, [*base, "--window-mode", "time", "--window-fps", "0"]).startswith("error: --window-fps: ")


def test_score_says_which_path_is_missing(tmp_path, capsys):
    write_segments(tmp_path / "pred" / "a.csv", [Segment(0.0, 4.0, "mount")])
    missing = tmp_path / "truth"
    assert _error(capsys, ["score", str(tmp_path / "pred"), str(missing)]) == \
        f"error: {missing}: not found (no such file or directory)"
    assert _error(capsys, ["score", str(missing), str(tmp_path / "pred")]).startswith(f"error: {missing}: not found")
    line = _error(capsys, ["score", str(tmp_path / "pred"), str(tmp_path / "pred" / "a.csv")])
    assert line == (f"error: {tmp_path / 'pred' / 'a.csv'}: a file, but {tmp_path / 'pred'} is a directory: give two "
                    "files or two directories")


def _near_miss(value: str) -> str:
    return value[:-1] if len(value) > 3 else value + "x"


def _choice_options():
    """(command words, option, a near miss, the value it is near) for every option with a fixed set of values."""
    for name, cmd in leaf_commands():
        for p in cmd.params:
            known = getattr(p.callback, "known", None)
            if known is not None and p.opts[0] != "--model":  # --model: below, one command is enough (it imports torch)
                good = list(known())[-1]
                yield pytest.param(name.split()[1:], p.opts[0], _near_miss(good), good, id=f"{name} {p.opts[0]}")
    yield pytest.param(["train"], "--model", "thermal_r2plus1d_lit", "thermal_r2plus1d_lite", id="train --model")
    yield pytest.param(["predict"], "--device", "cdua", "cuda", id="predict --device")
    yield pytest.param(["models"], "--table", "tvs", "tsv", id="models --table")


@pytest.mark.parametrize("words, option, bad, good", list(_choice_options()))
def test_unknown_values_name_the_option_and_the_near_miss(words, option, bad, good, capsys):
    line = _error(capsys, [*words, option, bad])
    assert line.startswith(f"error: {option}: unknown value {bad!r}; did you mean {good!r}? (choose from "), line


def test_far_misses_list_the_values_without_a_guess(capsys):
    assert _error(capsys, ["predict", "--device", "xla"]) == \
        "error: --device: unknown value 'xla' (choose from auto, cpu, cuda, cuda:N)"
    assert _error(capsys, ["predict", "--device", "gpu"]) == \
        "error: --device: unknown value 'gpu'; did you mean 'cuda'? (choose from auto, cpu, cuda, cuda:N)"
    assert _error(capsys, ["synth", "--preset", "hard"]) == \
        "error: --preset: unknown value 'hard' (choose from easy, realistic)"


def test_unknown_alert_classes_get_the_nearest_class():
    from actline.infer.stream_config import parse_alerts

    with pytest.raises(ActlineError) as exc:
        parse_alerts(["standng=2"], ["sitting", "standing", "lying"])
    assert str(exc.value) == ("--alert: unknown class 'standng'; did you mean 'standing'? "
                              "(choose from sitting, standing, lying)")


def test_flags_take_no_value(capsys):
    """`--json true` is refused as a stray argument: help shows --json without a placeholder, as a flag."""
    main(["models", "--help"])
    assert "<bool>" not in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["models", "--json", "true"])
    assert exc.value.code == 2 and "unexpected extra argument" in capsys.readouterr().err
