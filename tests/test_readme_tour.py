"""The README's commands work as written: its tour runs, in order, on what the demo leaves behind.

Every shell block of the README and of docs/getting-started.md is parsed from the Markdown (never
copied here), so a page that drifts from the code fails this test. Each command runs in a fresh
working directory through this interpreter (``python -m actline.cli``: the checkout's code):

- ``make demo`` becomes the Makefile's own demo command with one training epoch: the same data, the
  same split and the same ``runs/demo/`` layout, so the held-out recording the README names is the
  one the demo holds out;
- ``make test``, ``make docs``, ``pip install`` and ``mkdocs serve`` are not run (see NOT_RUN);
- a command with a placeholder (an argument in capitals: MODEL, RECORDING.h5) is a template: its
  command and options must exist; the README's tour may have none;
- anything else must be an ``actline`` command: it must exit 0, and what it says it writes
  (``--out``, an export's ``model.onnx``, every ``wrote PATH`` it prints) must exist. A recording predicted with a model of the tour's own run must be one that run
  held out.

At the end, every ``runs/...`` path the pages name in backticks exists, and every recording file the
documentation names under ``runs/demo/data`` or ``runs/thermal/data`` (``actline synth``'s default
data, the demo's) is one of the demo's recordings. The Results table's benchmark commands are not
in shell blocks and are not run. About 90 s on 2 cores.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.doc_commands import (
    actline_argv,
    find_command,
    is_template,
    shell_lines,
    subprocess_env,
    unknown_options,
    written_paths,
)

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("README.md", "docs/getting-started.md", "docs/new-rooms.md")
FAST_DEMO = ("--set", "epochs=1")  # the demo's data and split are unchanged: only training is shortened
NOT_RUN = {
    ("make", "test"): "runs this whole test suite",
    ("make", "docs"): "builds this site (make test does it strictly)",
    ("pip", "install"): "installs what this test already runs in",
    ("mkdocs", "serve"): "a server that runs until stopped",
}
TIMEOUT_S = 300


def _make_demo() -> list[str]:
    """The Makefile's `demo` recipe, as an actline command with one training epoch."""
    recipe = re.search(r"^demo:.*\n\t(.+)$", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M)
    assert recipe, "the Makefile has a demo target"
    words = shlex.split(recipe.group(1))
    assert words[0].endswith("/actline"), f"make demo runs actline: {recipe.group(1)}"
    return ["actline", *words[1:], *FAST_DEMO]


def _step(words: list[str]) -> list[str] | None:
    """The actline command to run for a documented line, or None for a line that is not run."""
    head = (Path(words[0]).name, words[1] if len(words) > 1 else "")
    if head == ("make", "demo"):
        return _make_demo()
    if head in NOT_RUN:
        return None
    assert head[0] == "actline", f"the tour test does not know how to run {shlex.join(words)!r}: add it to NOT_RUN"
    if is_template(words):
        assert not unknown_options(words), f"{shlex.join(words)}: no such option(s) {unknown_options(words)}"
        return None
    return words


def _outputs(words: list[str], cwd: Path) -> list[str]:
    """What a command's arguments say it writes."""
    name, _cmd, rest = find_command(words)
    outs = [rest[i + 1] for i, w in enumerate(rest[:-1]) if w == "--out"]
    positional = [w for w in rest if not w.startswith("-")]
    if name == "actline export" and not outs:  # a clip classifier's model.onnx, a timeline model's onnx/
        pipeline = json.loads((cwd / positional[0] / "config.json").read_text())["pipeline"]
        outs.append(f"{positional[0]}/{'model.onnx' if pipeline == 'clip-classifier' else 'onnx'}")
    return outs


def _held_out(words: list[str], cwd: Path) -> None:
    """A recording of its own data predicted with a model of the tour's own run is one that run never trained on
    (recordings of other data sets, other rooms, are new to it anyway)."""
    name, _cmd, rest = find_command(words)
    if name != "actline predict":
        return
    model, recording = [w for w in rest if not w.startswith("-")][:2]
    split, run_json = cwd / model / ".." / "split.json", cwd / model / ".." / "run.json"
    own = run_json.is_file() and (cwd / recording).resolve().is_relative_to(
        (cwd / json.loads(run_json.read_text())["data"]).resolve())
    if split.is_file() and own:
        sides = json.loads(split.read_text())
        rec = Path(recording).stem
        assert rec in sides["eval"]["recordings"] and rec not in sides["train"]["recordings"], \
            f"{shlex.join(words)}: {rec} is not a recording the run held out"


def _run(words: list[str], cwd: Path) -> None:
    proc = subprocess.run(actline_argv(words), cwd=cwd, env=subprocess_env(), capture_output=True, text=True,
                          timeout=TIMEOUT_S)
    assert proc.returncode == 0, f"{shlex.join(words)} exited {proc.returncode}:\n{proc.stderr[-2000:]}"
    assert proc.stdout.strip(), f"{shlex.join(words)} printed nothing"
    claimed = _outputs(words, cwd) + written_paths(proc.stdout + proc.stderr)
    missing = [p for p in claimed if not (cwd / p).exists()]
    assert not missing, f"{shlex.join(words)} did not write {missing}"
    _held_out(words, cwd)


def _named_paths(text: str) -> set[str]:
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    return {p.rstrip("/") for p in re.findall(r"`(runs/[^`\s]+)`", prose)}


@pytest.mark.slow
def test_every_documented_command_runs_as_written(tmp_path):
    done: list[list[str]] = []
    for page in PAGES:
        steps = [_step(w) for w in shell_lines((ROOT / page).read_text(encoding="utf-8"))]
        if page == "README.md":
            assert len([s for s in steps if s]) >= 10, "the README's tour has its commands in bash blocks"
            assert steps[0] == _make_demo(), "the README starts with make demo"
        for words in steps:
            if words and words not in done:
                _run(words, tmp_path)
                done.append(words)
    named = set().union(*(_named_paths((ROOT / p).read_text(encoding="utf-8")) for p in PAGES))
    assert "runs/demo/report.html" in named
    assert not [p for p in named if not (tmp_path / p).exists()], "paths the pages name that nothing wrote"
    demo_recordings = {p.name for p in (tmp_path / "runs/demo/data/frames").glob("*.h5")}
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    named_files = {(d.name, m) for d in docs
                   for m in re.findall(r"runs/(?:demo|thermal)/data/frames/([^\s`]+\.h5)", d.read_text(encoding="utf-8"))}
    assert named_files and not {x for x in named_files if x[1] not in demo_recordings}, \
        f"recordings the docs name that the demo's data (actline synth's default) does not have: {named_files}"


def test_the_tour_parses_and_its_templates_exist():
    """Fast: every documented line is one the tour knows how to run or skip, and templates name real options."""
    readme = shell_lines((ROOT / "README.md").read_text(encoding="utf-8"))
    assert not [w for w in readme if Path(w[0]).name == "actline" and is_template(w)], "the README's tour has templates"
    for page in PAGES:
        for words in shell_lines((ROOT / page).read_text(encoding="utf-8")):
            step = _step(words)
            if step:
                assert find_command(step), f"{page}: no such command: {shlex.join(words)}"
                assert not unknown_options(step), f"{page}: {shlex.join(words)}: no such option(s) {unknown_options(step)}"
