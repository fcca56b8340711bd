"""Command-line reference pages, generated from the typer app each time the site is built.

Run by mkdocs-gen-files (``mkdocs.yml``: ``plugins: gen-files``). One page per module of
``actline.cli`` (the command groups of the code: data, train, timeline, ...); each command's usage,
arguments, options and help come from click's own objects (``collect_usage_pieces``,
``get_help_record``), so they always match ``actline COMMAND --help``. (typer's ``utils docs``
generator would do the same, but writes help text into Markdown unescaped, so ``frames/<id>.h5``
loses its ``<id>`` as an HTML tag: hence these few lines.) The walk (``actline.cli.tree``) covers the
whole command tree, so every command gets a section; ``cli/index.md`` lists them all with their
one-line help, and the build fails if a generated page has no entry in the nav of ``mkdocs.yml``.
"""

from __future__ import annotations

import re
import sys

import mkdocs_gen_files

from actline.cli.tree import leaf_commands, root_context

ctx = root_context()


def _md(text: str) -> str:
    """Help text as Markdown: literal outside `code spans` (no HTML tags, no emphasis), code spans kept."""
    parts = text.split("`")
    for i in range(0, len(parts), 2):
        parts[i] = re.sub(r"([\\*_\[\]])", r"\\\1", parts[i])
        parts[i] = parts[i].replace("<", "&lt;").replace(">", "&gt;").replace("|", "&#124;")
    return "`".join(parts)


def _page_for(full: str, cmd) -> str:
    lines = [f"## `{full}`\n", _md(cmd.help or "") + "\n",
             f"```console\n$ {full} {' '.join(cmd.collect_usage_pieces(ctx))}\n```\n"]
    for kind, title in (("argument", "Arguments"), ("option", "Options")):
        records = [p.get_help_record(ctx) for p in cmd.get_params(ctx) if p.param_type_name == kind]
        records = [r for r in records if r]
        if records:
            lines.append(f"**{title}**\n")
            lines += [f"- `{names}`" + (f": {_md(help_)}" if help_ else "") for names, help_ in records]
            lines.append("")
    return "\n".join(lines) + "\n"


def _module(cmd) -> str:
    return cmd.callback.__module__.rsplit(".", 1)[-1]


def _summary(module: str) -> str:
    return (sys.modules[f"actline.cli.{module}"].__doc__ or "").strip().split("\n\n")[0]


pages: dict[str, list[tuple[str, object]]] = {}
for full, cmd in leaf_commands(ctx):
    pages.setdefault(_module(cmd), []).append((full, cmd))

index = ["# Command line\n",
         "Every command of `actline`, generated from the program itself when this site is built "
         "(`docs/gen_cli_pages.py`); `actline COMMAND --help` prints the same text.\n",
         "`actline --version` prints the installed version. Errors in what you give a command print one line "
         "naming the file or option and what is wrong, and exit with code 2.\n",
         "Every command spells things the same way: a data set is `--data DIR`, a model the first argument, what "
         "a command writes `--out PATH` (`--overwrite` replaces it), the device `--device auto|cpu|cuda[:N]` and "
         "CPU threads `--threads N`. Commands that print a table take `--json` (the result alone on stdout) and "
         "`--table rich|plain|tsv|csv` (in a pipe or a file a table prints as plain columns); long jobs take "
         "`--quiet`. Older spellings (`actline synth DIR`, `--force`, ...) still work for one release, with a "
         "one-line notice on stderr.\n",
         "| command | what it does | page |", "|---|---|---|"]
for module, cmds in pages.items():
    names = ", ".join(full.removeprefix("actline ") for full, _ in cmds)
    body = [f"# {names}\n", f"{_summary(module)} (Generated from `actline.cli.{module}`.)\n"]
    for full, cmd in cmds:
        body.append(_page_for(full, cmd))
        anchor = full.replace(" ", "-")
        index.append(f"| [`{full}`]({module}.md#{anchor}) | {_md(cmd.get_short_help_str(limit=200))} | "
                     f"[{module}]({module}.md) |")
    with mkdocs_gen_files.open(f"cli/{module}.md", "w") as f:
        f.write("\n".join(body))

with mkdocs_gen_files.open("cli/index.md", "w") as f:
    f.write("\n".join(index) + "\n")

# every generated page must be reachable from the nav (a new command module needs a nav entry)
nav_text = str(mkdocs_gen_files.config.nav)
missing = [m for m in pages if f"cli/{m}.md" not in nav_text]
if missing:
    raise SystemExit(f"mkdocs.yml: nav has no entry for cli/{missing[0]}.md (generated from actline.cli.{missing[0]})")
