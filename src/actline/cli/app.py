"""The typer application and the console entry point: user errors print one line and exit 2."""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from actline.cli import tables
from actline.cli.command import ActlineCommand, ActlineGroup
from actline.cli.render import err, out
from actline.core.errors import ActlineError
from actline.core.extras import missing_extra


class _Typer(typer.Typer):
    """A typer application whose groups and commands are actline's (:mod:`actline.cli.command`)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, cls=ActlineGroup, **kwargs)

    def command(self, *args, cls=None, **kwargs):
        return super().command(*args, cls=cls or ActlineCommand, **kwargs)


app = _Typer(add_completion=False, no_args_is_help=True,
             help="actline: action recognizers and action timelines from small recordings.")
data_app = _Typer(no_args_is_help=True, help="Import, inspect and render data sets.")
app.add_typer(data_app, name="data")
alerts_app = _Typer(no_args_is_help=True, help="Alert settings of a streaming model, chosen on held-out recordings.")
app.add_typer(alerts_app, name="alerts")
features_app = _Typer(no_args_is_help=True, help="Backbone features per chunk, cached on disk.")
app.add_typer(features_app, name="features")


def version() -> str:
    """The installed package's version (its metadata), or the source's when actline runs uninstalled."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("actline")
    except PackageNotFoundError:
        from actline import __version__

        return __version__


def _print_version(value: bool) -> None:
    if value:
        tables.reset()  # eager: before the callback below
        out.print(f"actline {version()}", highlight=False)
        raise typer.Exit()


@app.callback()
def _options(_version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                           help="Print the version and exit.")) -> None:
    tables.reset()  # each invocation starts with results on stdout and tables styled by where stdout goes


def main(argv: list[str] | None = None) -> None:
    """Console entry point: user errors, and commands whose extra is not installed, print one line and exit 2."""
    tables.reset()
    try:
        _run(argv)
    finally:
        tables.reset()  # a caller in the same process (a test, a script) gets the messages console back on stdout


def _run(argv: list[str] | None) -> None:
    try:
        app(args=argv, standalone_mode=False)
    except ActlineError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except ModuleNotFoundError as exc:
        hint = missing_extra(exc)  # a command whose extra is not installed (e.g. train on a runtime-only install)
        if hint is None:
            raise
        err.print(f"[bold red]error:[/] {escape(hint)}", highlight=False, soft_wrap=True)
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

