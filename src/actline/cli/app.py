"""The typer application and the console entry point: user errors print one line and exit 2."""

from __future__ import annotations

import sys

import typer

from actline.cli.render import err
from actline.core.errors import ActlineError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="actline: action recognizers and action timelines from small recordings.")
data_app = typer.Typer(no_args_is_help=True, help="Look at data sets.")
app.add_typer(data_app, name="data")
features_app = typer.Typer(no_args_is_help=True, help="Backbone features per chunk, cached on disk.")
app.add_typer(features_app, name="features")


def main(argv: list[str] | None = None) -> None:
    """Console entry point: user errors print one line and exit 2."""
    try:
        app(args=argv, standalone_mode=False)
    except ActlineError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except (typer.Exit, SystemExit) as exc:
        code = getattr(exc, "exit_code", getattr(exc, "code", 0))
        sys.exit(code or 0)
    except Exception as exc:
        # usage errors from click (typer vendors its own copy, so match by interface, not class)
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            exc.show()
            sys.exit(exc.exit_code)
        if type(exc).__name__ == "Abort":
            err.print("aborted")
            sys.exit(130)
        raise

