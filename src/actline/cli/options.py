"""The options every command spells the same way (docs/architecture.md, "Command line").

A data set is ``--data DIR``; what a command writes is ``--out PATH`` and ``--overwrite`` replaces
it; ``--json`` and ``--table STYLE`` choose how results print; ``--quiet`` hides progress; models run
on ``--device auto|cpu|cuda[:N]`` with ``--threads N``. A command declares these through the
factories here, so name, metavar and help are the same everywhere; ``tests/cli/test_command_tree.py``
holds every command to it. An option with a fixed set of values checks it here too: an unknown
value names the option and the nearest known value.
"""

from __future__ import annotations

import re
from typing import Callable, Optional, Sequence

import typer

from actline.cli import tables
from actline.core.errors import ActlineError, unknown_value

DEVICES = ("auto", "cpu", "cuda", "cuda:N")
DEVICE_METAVAR = "auto|cpu|cuda[:N]"
_DEVICE = re.compile(r"(auto|cpu|cuda(:\d+)?)")


def check_choice(option: str, value, known: Sequence[str]):
    """``value`` (or each of a list of values) if it is one of ``known``; else an error naming ``option``."""
    for v in value if isinstance(value, (list, tuple)) else [value]:
        if v is not None and v not in known:
            raise ActlineError(option, unknown_value(v, known))
    return value


def _checker(known: Callable[[], Sequence[str]]):
    def check(ctx, param, value):
        if value is None or value == []:
            return value
        return check_choice(param.opts[0], value, known())

    check.known = known  # for the test that compares each option's metavar with its values
    return check


def choice(default, name: str, known: Callable[[], Sequence[str]], metavar: str, help: str):
    """An option taking one of ``known()`` (looked up when the option is given, so that ``--help`` imports
    nothing heavy). ``metavar`` shows the values (``a|b|c``: the command-tree test checks it against
    ``known()``) or names them (``NAME``) where a command lists them."""
    return typer.Option(default, name, metavar=metavar, help=help, callback=_checker(known))


def flag(name: str, help: str):
    """A boolean flag: present or absent, no value and no ``--no-`` twin."""
    return typer.Option(False, name, help=help)


def data_option(help: str = "Data set directory (ThermalDataGen or Nagoya layout).", required: bool = True):
    return typer.Option(... if required else None, "--data", metavar="DIR", help=help)


def out_option(help: str, default=...):
    return typer.Option(default, "--out", metavar="PATH", help=help)


def overwrite_option(what: str = "what --out names"):
    return flag("--overwrite", f"Replace {what} if it exists.")


def quiet_option(help: str = "No progress bars or progress lines (warnings and errors still print)."):
    return flag("--quiet", help)


def _set_json(ctx, param, value):
    tables.mode.json = bool(value)
    tables.route()
    return value


def json_option(help: str = "Print the result as JSON on stdout (nothing else goes there)."):
    return typer.Option(False, "--json", help=help, callback=_set_json)


def _set_table(ctx, param, value):
    check_choice("--table", value, tables.STYLES)
    tables.mode.table = value
    tables.route()
    return value


def table_option():
    return typer.Option(None, "--table", metavar="|".join(tables.STYLES), callback=_set_table,
                        help="How tables print: rich (boxes; the default on a terminal), plain (aligned columns; the "
                             "default in pipes and files), tsv or csv (header and rows alone on stdout).")


def _check_device(ctx, param, value):
    if value is not None and not _DEVICE.fullmatch(value):
        if value.lower() in ("gpu", "cuda0", "nvidia"):  # what people call a GPU, spelled as torch does
            raise ActlineError(param.opts[0], f"unknown value {value!r}; did you mean 'cuda'? (choose from "
                                              f"{', '.join(DEVICES)})")
        raise ActlineError(param.opts[0], unknown_value(value, DEVICES))
    return value


def device_option():
    return typer.Option(None, "--device", metavar=DEVICE_METAVAR, callback=_check_device,
                        help="Where models run: auto (a GPU when there is one; the default), cpu, cuda or cuda:N.")


def threads_option():
    return typer.Option(0, "--threads", metavar="N", min=0,
                        help="CPU threads for the model (0: the runtime's default, every core).")


def _backends():
    from actline.apps.model_backend import BACKENDS

    return BACKENDS


def backend_option():
    return choice(None, "--backend", _backends, "onnx|torch",
                  help="onnx or torch (default: ONNX where a model directory holds its export; onnx exports one first "
                       "where it does not, which needs torch).")


def _check_ray(ctx, param, value):
    if value is not None:
        from actline.core.task_map import require_ray

        require_ray()  # without it: one line naming the extra, exit 2, before any work
    return value


def ray_option(what: str):
    return typer.Option(None, "--ray", metavar="ADDRESS", callback=_check_ray,
                        help=f"Run the {what} as tasks on a Ray cluster: auto (the one started on this machine with "
                             "`ray start --head`) or its head's HOST:PORT. Needs `pip install 'actline[ray]'`.")


def runtime_overrides(device: Optional[str], threads: int) -> list[str]:
    """``--device`` and ``--threads`` as training settings (``device=``, ``num_threads=``), when given."""
    return [*([f"device={device}"] if device else []), *([f"num_threads={threads}"] if threads else [])]
