"""Every command follows the command-line convention (docs/architecture.md, "Command line").

The commands come from the command tree (``actline.cli.tree``), so a new command is held to the
convention without being listed here; the lists below only say which commands read a data set,
write something, print a table, run long or run a model, and a test fails when a command's options
say otherwise (a ``--json`` on a command missing from the table list, an ``--out`` missing from the
writers, a ``--device`` outside the model runners).
"""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from actline.cli import app
from actline.cli.options import DEVICE_METAVAR
from actline.cli.tables import STYLES
from actline.cli.tree import leaf_commands, root_context

COMMANDS = dict(leaf_commands())
CTX = root_context()

READ_DATA = {"adapt", "alerts choose", "train", "cv", "evaluate", "train-timeline", "evaluate-stream", "data inspect", "data render", "label",
             "export"}  # export --int8 calibrates on the training data
# writers: True where an existing output is refused unless --overwrite replaces it
WRITERS = {"adapt": True, "synth": True, "synth-video": True, "train": True, "cv": True, "train-timeline": True, "data import": True,
           "data render": True, "evaluate": False, "demo": False, "timeline": False, "analyze": False,
           "export": False, "report": False, "alerts choose": False}  # alerts choose --out: the folds' runs, reused
# `demo` prints several tables but is a tour that writes everything it shows to its run directory: no --json
TABLES = {"adapt", "data inspect", "train", "cv", "evaluate", "predict", "models", "score", "train-timeline", "timeline",
          "analyze", "evaluate-stream", "alerts choose"}
LONG_JOBS = {"adapt", "synth", "synth-video", "train", "cv", "evaluate", "demo", "train-timeline", "timeline",
             "features extract", "evaluate-stream", "data render", "alerts choose"}
MODEL_FIRST = {"adapt", "alerts choose", "alerts set", "evaluate", "predict", "timeline", "export", "stream", "evaluate-stream", "serve"}
RUN_MODELS = {"adapt", "train", "cv", "evaluate", "demo", "predict", "train-timeline", "timeline", "features extract", "stream",
              "evaluate-stream", "serve", "alerts choose"}


def _short(full: str) -> str:
    return full.removeprefix("actline ")


def _options(cmd) -> dict[str, object]:
    return {o: p for p in cmd.params if p.param_type_name == "option" for o in (*p.opts, *p.secondary_opts)}


def _arguments(cmd) -> list:
    return [p for p in cmd.params if p.param_type_name == "argument"]


def _commands_with(option: str) -> set[str]:
    return {_short(n) for n, c in COMMANDS.items() if option in _options(c)}


def test_the_lists_name_real_commands():
    names = {_short(n) for n in COMMANDS}
    for listed in (READ_DATA, set(WRITERS), TABLES, LONG_JOBS, RUN_MODELS, MODEL_FIRST):
        assert listed <= names, listed - names


def test_a_data_set_is_always_the_data_option():
    for name, cmd in COMMANDS.items():
        for arg in _arguments(cmd):
            assert not re.search(r"data", arg.name) and "data set" not in (arg.help or "").lower(), \
                f"{name}: a data set as the argument {arg.name.upper()} (use --data DIR)"
        data_like = [p for p in cmd.params if p.name in ("data", "data_dir", "dataset")]
        assert all(p.opts == ["--data"] and p.metavar == "DIR" for p in data_like), name
    assert _commands_with("--data") == READ_DATA


def test_a_model_is_the_first_argument_and_inputs_follow_it():
    """``actline predict MODEL RECORDINGS...``, ``actline timeline MODEL INPUTS...``: several inputs of one kind
    come as arguments after the model."""
    firsts = {}
    for name, cmd in COMMANDS.items():
        args = _arguments(cmd)
        assert all(a.metavar and a.metavar.isupper() for a in args), f"{name}: arguments named in capitals"
        assert not [a for a in args[1:] if a.metavar in ("MODEL", "MODELS")], f"{name}: a model after another argument"
        if args:
            firsts[_short(name)] = args[0].metavar
        if args and args[0].metavar == "MODEL":
            assert all(a.nargs == -1 for a in args[1:]), f"{name}: inputs after the model are one list"
    assert {n for n, m in firsts.items() if m in ("MODEL", "MODELS")} == MODEL_FIRST
    assert firsts["predict"] == firsts["timeline"] == "MODEL"
    assert [a.metavar for a in _arguments(COMMANDS["actline predict"])] == ["MODEL", "RECORDINGS"]


def test_writers_write_to_out_and_overwrite_replaces():
    for name, cmd in COMMANDS.items():
        opts = _options(cmd)
        assert not any(re.match(r"out|output", a.name) for a in _arguments(cmd)), f"{name}: output as an argument"
        assert "--force" not in opts, f"{name}: --force (the spelling is --overwrite)"
        if "--out" in opts:
            assert opts["--out"].metavar == "PATH", name
        if "--overwrite" in opts:
            assert opts["--overwrite"].help.startswith("Replace "), name
    assert _commands_with("--out") == set(WRITERS)
    assert _commands_with("--overwrite") == {n for n, replaces in WRITERS.items() if replaces}


def test_flags_are_flags_without_a_placeholder():
    for name, cmd in COMMANDS.items():
        for p in cmd.get_params(CTX):
            if getattr(p, "is_flag", False):
                assert not p.secondary_opts, f"{name} {p.opts[0]}: a --no- twin ({p.secondary_opts})"
                assert p.metavar == "" and p.default in (False, None), f"{name} {p.opts[0]}"
            elif p.param_type_name == "option":
                assert not isinstance(p.default, bool), f"{name} {p.opts[0]}: a boolean that takes a value"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_shows_no_bool_placeholder_and_explains_everything(name):
    cmd = COMMANDS[name]
    assert (cmd.help or "").strip(), f"{name} has no help"
    missing = [p.name for p in cmd.params if not (getattr(p, "help", None) or "").strip()]
    assert not missing, f"{name}: no help for {missing}"
    result = CliRunner().invoke(app, [*name.split()[1:], "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "<bool>" not in result.output, result.output


def test_table_commands_take_json_and_the_table_style():
    assert _commands_with("--json") - {"data import"} == TABLES  # data import's --json prints its summary
    assert _commands_with("--table") == TABLES
    for name, cmd in COMMANDS.items():
        if "--table" in _options(cmd):
            assert _options(cmd)["--table"].metavar == "|".join(STYLES) == "rich|plain|tsv|csv"


def test_long_jobs_take_quiet():
    assert _commands_with("--quiet") == LONG_JOBS


def test_devices_and_threads_are_spelled_one_way():
    assert _commands_with("--device") == _commands_with("--threads") == RUN_MODELS
    seen = {}
    for name, cmd in COMMANDS.items():
        opts = _options(cmd)
        assert not {"--gpu", "--cuda", "--num-threads", "--workers-threads"} & set(opts), name
        for option in ("--device", "--threads"):
            if option in opts:
                p = opts[option]
                seen.setdefault(option, set()).add((tuple(p.opts), p.metavar, p.default, p.help))
    assert len(seen["--device"]) == 1 and next(iter(seen["--device"]))[:3] == (("--device",), DEVICE_METAVAR, None)
    assert len(seen["--threads"]) == 1 and next(iter(seen["--threads"]))[:3] == (("--threads",), "N", 0)


def test_options_with_fixed_values_show_them():
    checked = 0
    for name, cmd in COMMANDS.items():
        for p in cmd.params:
            known = getattr(p.callback, "known", None)
            if known is None:
                continue
            values = list(known())
            if p.metavar.isupper():  # a NAME whose values another command lists (actline models)
                assert p.default is None or p.default in values, name
            else:
                assert p.metavar == "|".join(values), f"{name} {p.opts[0]}: shows {p.metavar}, takes {values}"
            checked += 1
    assert checked >= 10


def test_one_option_name_means_one_thing():
    """The same option has the same placeholder wherever it appears (its help may say what it is there)."""
    metavars: dict[str, set] = {}
    for cmd in COMMANDS.values():
        for option, p in _options(cmd).items():
            if option in ("--data", "--out", "--json", "--table", "--quiet", "--overwrite", "--device", "--threads",
                          "--backend"):
                metavars.setdefault(option, set()).add(p.metavar)
    assert all(len(v) == 1 for v in metavars.values()), metavars


def test_the_commands_over_many_files_or_folds_take_ray():
    """`--ray ADDRESS` runs a command's files (timeline, predict) or folds (cv) as tasks on a Ray cluster."""
    assert _commands_with("--ray") == {"timeline", "predict", "cv"}
    assert {_options(COMMANDS[f"actline {n}"])["--ray"].metavar for n in ("timeline", "predict", "cv")} == {"ADDRESS"}
