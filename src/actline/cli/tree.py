"""The command tree of ``actline``: every leaf command with its full name, in ``--help`` order.

Used by whatever needs all the commands at once: the generated command-line reference
(``docs/gen_cli_pages.py``) and the tests that hold every command to the same rules. The objects
are typer's click commands (typer vendors its own copy of click, so groups are told by their
``list_commands``, not by a click class).
"""

from __future__ import annotations

import typer

from actline.cli.app import app


def root_context() -> typer.Context:
    """A context for the whole program (``actline``), as usage lines and help records need."""
    return typer.Context(typer.main.get_command(app), info_name="actline")


def leaf_commands(ctx: typer.Context | None = None) -> list[tuple[str, object]]:
    """(full name such as ``actline data inspect``, command) for every command that runs something (not
    the groups), in ``--help`` order; ``ctx`` defaults to :func:`root_context`."""
    ctx = ctx or root_context()

    def walk(group, prefix: str):
        for name in group.list_commands(ctx):
            cmd = group.get_command(ctx, name)
            if hasattr(cmd, "list_commands"):
                yield from walk(cmd, f"{prefix} {name}")
            else:
                yield f"{prefix} {name}", cmd

    return list(walk(ctx.command, ctx.info_name))
