"""Commands as the documentation and the deployment files write them, read and checked against the program.

Shared by the tests that run the README's tour, the examples and the deployment files: they parse
the commands out of the files users read (never a copy in a test), so a page or a unit that drifts
from the code fails.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from pathlib import Path

import actline

FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```", re.M | re.S)
SHELL_FENCES = ("bash", "sh", "shell", "console")
# an argument in capitals (MODEL, RECORDING.h5, VIDEOS_OR_RECORDINGS/): a command written as a template
PLACEHOLDER = re.compile(r"^[A-Z][A-Z_]*[A-Z](\.[a-z0-9.]+|/)?$")  # MODEL, RECORDING.h5, DIR/ (a sensor id such as SL37 is not)
WROTE = re.compile(r"\bwrote (.+)$", re.M)


def shell_lines(markdown: str) -> list[list[str]]:
    """The commands of every shell code block, in page order, as argument lists (comments dropped,
    backslash continuations joined)."""
    lines = []
    for lang, body in FENCE.findall(markdown):
        if lang not in SHELL_FENCES:
            continue
        for line in re.sub(r"\\\n\s*", " ", body).splitlines():
            words = shlex.split(line, comments=True)
            if words:
                lines.append(words)
    return lines


def is_template(words: list[str]) -> bool:
    return any(PLACEHOLDER.match(w.split("=", 1)[-1]) for w in words[1:])


def actline_argv(words: list[str]) -> list[str]:
    """``actline ARGS`` as this interpreter runs it (the checkout's code, whatever is on PATH)."""
    return [sys.executable, "-m", "actline.cli", *words[1:]]


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for a command run in another directory: PYTHONPATH made absolute, with the
    directory this actline was imported from first; wide output so printed paths are never wrapped."""
    src = str(Path(actline.__file__).resolve().parents[1])
    paths = [str(Path(p).resolve()) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {**os.environ, "PYTHONPATH": os.pathsep.join([src, *paths]), "COLUMNS": "400", **extra}


def find_command(words: list[str]):
    """(full name, click command, the arguments after its name) of ``actline ...``; None if no command matches."""
    from actline.cli.tree import leaf_commands

    best = None
    for name, cmd in leaf_commands():
        parts = name.split()[1:]
        if words[1:1 + len(parts)] == parts and (best is None or len(parts) > len(best[0].split()) - 1):
            best = (name, cmd, words[1 + len(parts):])
    return best


def unknown_options(words: list[str]) -> list[str]:
    """The ``--options`` of ``actline ...`` that its command does not take (all of them if no command matches)."""
    found = find_command(words)
    opts = [w.split("=", 1)[0] for w in words[1:] if w.startswith("-")]
    if found is None:
        return opts or ["(no such command)"]
    known = {o for p in found[1].params for o in (*p.opts, *getattr(p, "secondary_opts", ()))} | {"--help"}
    return [o for o in opts if o not in known]


def written_paths(output: str) -> list[str]:
    """The paths a command says it wrote (``wrote A, B and C (note)``)."""
    paths = []
    for rest in WROTE.findall(output):
        rest = re.sub(r" \(.*$", "", rest.strip())
        paths += [t for t in re.split(r", | and ", rest) if "/" in t and " " not in t]
    return paths
