"""The import graph has no upward edge: data flows down, from readers to models to training to evaluation,
and from model directories to inference and the applications; the command line sits on top.

Every ``import actline.X`` in ``src/actline`` (at module level or inside a function) is checked
against the layers each package may use.
"""

import ast
from pathlib import Path

import actline

SRC = Path(actline.__file__).parent
BELOW = {
    "core": set(),
    "data": {"core"},
    "metrics": {"core"},
    "models": {"core", "data"},
    "modeldir": {"core", "data", "models"},
    "features": {"core", "data", "models", "modeldir"},
    "train": {"core", "data", "metrics", "models", "modeldir", "features"},
    "evaluate": {"core", "data", "metrics", "models", "modeldir", "features", "train"},
    "runs": {"core", "data", "metrics", "models", "modeldir", "features", "train", "evaluate"},
    "infer": {"core", "data", "metrics", "models", "modeldir", "features"},
    "apps": {"core", "data", "metrics", "models", "modeldir", "features", "train", "evaluate", "runs", "infer"},
    "cli": {"core", "data", "metrics", "models", "modeldir", "features", "train", "evaluate", "runs", "infer", "apps"},
}


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names)


def test_every_package_is_a_known_layer():
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert packages == set(BELOW)
    assert sorted(p.name for p in SRC.glob("*.py")) == ["__init__.py"]  # no loose modules at the root


def test_no_upward_imports():
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).parts
        if len(rel) < 2:
            continue
        layer = rel[0]
        for mod in _imports(path):
            parts = mod.split(".")
            if parts[0] != "actline" or len(parts) < 2:
                continue
            if parts[1] != layer and parts[1] not in BELOW[layer]:
                bad.append(f"{'/'.join(rel)} imports {mod}")
    assert not bad, "upward or sideways imports:\n" + "\n".join(bad)


MAX_MODULE_LINES, MAX_FUNCTION_LINES = 300, 60


def test_modules_and_functions_stay_small():
    """A module over 300 lines or a function over 60 holds more than one idea: split it."""
    big, long = [], []
    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(SRC)
        if len(text.splitlines()) > MAX_MODULE_LINES:
            big.append(f"{rel}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{rel}:{node.lineno} {node.name}: {n} lines")
    assert not big and not long, "\n".join(big + long)


def test_no_two_modules_share_a_file_name():
    """One name, one module: ``from ... import load`` never means two things."""
    seen: dict[str, list[str]] = {}
    for path in SRC.rglob("*.py"):
        if path.name not in ("__init__.py", "__main__.py"):
            seen.setdefault(path.name, []).append(str(path.relative_to(SRC)))
    assert not {k: v for k, v in seen.items() if len(v) > 1}
