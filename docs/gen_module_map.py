"""The module map of the architecture page, generated from the source tree each time the site is built.

Run by mkdocs-gen-files. For every package of ``src/actline``, in layer order, the packages it may
import (read from ``tests/test_layers.py``, the test that enforces them) and every module with the
first line of its docstring, so the page cannot drift from the tree.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import mkdocs_gen_files

REPO = Path(mkdocs_gen_files.config.config_file_path).parent
SRC = REPO / "src" / "actline"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


plain_roles = _load("actline_docs_roles", REPO / "docs" / "gen_rst_roles.py").plain_roles


def _summary(path: Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    line = " ".join(doc.split("\n\n")[0].split())  # the first paragraph, joined
    return plain_roles(line).replace("|", "\\|") or "–"


def _package_rows(package: Path) -> list[str]:
    rows = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if path.name == "__init__.py" and not ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))):
            continue
        rows.append(f"| `{rel}` | {_summary(path)} |")
    return rows


below = _load("actline_test_layers", REPO / "tests" / "test_layers.py").BELOW
lines = ["# Module map\n",
         "Every module of `src/actline`, generated from the tree when this site is built "
         "(`docs/gen_module_map.py`): the first paragraph of each module's docstring. Packages are listed "
         "from the bottom layer up; *may import* is the rule `tests/test_layers.py` enforces. "
         "See [Architecture](architecture.md) for the picture.\n"]
for name in sorted(below, key=lambda n: (len(below[n]), n)):
    may = ", ".join(f"`{b}`" for b in sorted(below[name], key=lambda b: (len(below[b]), b))) or "nothing of actline"
    lines += [f"## `{name}`\n", f"May import: {may}.\n", "| module | what it holds |", "|---|---|",
              *_package_rows(SRC / name), ""]
lines += ["## The package root\n", "| module | what it holds |", "|---|---|",
          f"| `__init__.py` | {_summary(SRC / '__init__.py')} |", ""]
missing = sorted(p.name for p in SRC.iterdir() if (p / "__init__.py").is_file() and p.name not in below)
if missing:
    raise SystemExit(f"tests/test_layers.py: package {missing[0]} has no layer")

with mkdocs_gen_files.open("modules.md", "w") as f:
    f.write("\n".join(lines))
