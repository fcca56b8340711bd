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
