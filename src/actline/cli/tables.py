"""Where output goes, and tables in four styles: rich boxes, plain columns, TSV and CSV.

Every command that prints a table takes ``--json`` and ``--table STYLE``; their option callbacks
(``cli/options.py``) set the :data:`mode` of this invocation. The rules:

- results go to stdout and messages (``wrote ...``, notes, the next step) through the ``out``
  console; with ``--json``, ``--table tsv`` or ``--table csv`` that console writes to stderr, so
  stdout holds the JSON or the table alone;
- a table is drawn with boxes on a terminal and as plain aligned columns anywhere else (a pipe, a
  file, a CI log), whatever its width; ``--table`` chooses. TSV and CSV print the header and the
  rows of each table (tables apart by one empty line); its title goes to stderr with the messages.
"""

from __future__ import annotations

import csv
import sys
from dataclasses import dataclass, field

from rich.text import Text

STYLES = ("rich", "plain", "tsv", "csv")


@dataclass
class Mode:
    """How this invocation prints: ``--json`` and ``--table`` (None: rich on a terminal, plain elsewhere)."""

    json: bool = False
    table: str | None = None

    def style(self) -> str:
        return self.table or ("rich" if sys.stdout.isatty() else "plain")

    def machine(self) -> bool:
        """Whether stdout holds data for a program (JSON, TSV or CSV) and nothing else."""
        return self.json or self.table in ("tsv", "csv")


mode = Mode()


def route() -> None:
    """Send the messages console to stderr while stdout is kept for machine-readable output."""
    from actline.cli.render import out

    out.stderr = mode.machine()


def reset() -> None:
    """A fresh invocation: no ``--json``, the table style by where stdout goes."""
    mode.json, mode.table = False, None
    route()


def bold(text: str) -> Text:
    """A cell drawn bold in a rich table (its text alone elsewhere)."""
    return Text(text, style="bold")


@dataclass
class Table:
    """A titled table of text cells; ``columns`` are names, a name starting with ``>`` is right-aligned."""

    title: str
    columns: list[str]
    rows: list[list[str | Text]] = field(default_factory=list)

    def add_row(self, *cells: str | Text) -> None:
        self.rows.append(list(cells))

    def names(self) -> list[str]:
        return [c.lstrip(">") for c in self.columns]

    def plain_rows(self) -> list[list[str]]:
        return [[c.plain if isinstance(c, Text) else str(c) for c in row] for row in self.rows]


def print_table(table: Table) -> None:
    """``table`` on stdout in this invocation's style."""
    style = mode.style()
    if style == "rich":
        return _print_rich(table)
    from actline.cli.render import out

    if style == "plain":
        widths = [max(len(x) for x in col) for col in zip(table.names(), *table.plain_rows())]
        lines = [table.title] if table.title else []
        for row in [table.names(), *table.plain_rows()]:
            cells = [v.rjust(w) if c.startswith(">") else v.ljust(w) for c, v, w in zip(table.columns, row, widths)]
            lines.append("  ".join(cells).rstrip())
        print("\n".join(lines) + "\n", flush=True)
        return
    if table.title:
        out.print(table.title, highlight=False, soft_wrap=True)
    writer = csv.writer(sys.stdout, delimiter="\t" if style == "tsv" else ",", lineterminator="\n")
    clean = (lambda v: v.replace("\t", " ").replace("\n", " ")) if style == "tsv" else (lambda v: v)
    writer.writerows([[clean(v) for v in row] for row in [table.names(), *table.plain_rows()]])
    print(flush=True)


def _print_rich(table: Table) -> None:
    from rich.table import Table as RichTable

    from actline.cli.render import out

    t = RichTable(title=table.title or None)
    for col in table.columns:
        t.add_column(col.lstrip(">"), justify="right" if col.startswith(">") else "left")
    for row in table.rows:
        t.add_row(*[c if isinstance(c, Text) else Text(str(c)) for c in row])
    out.print(t)
