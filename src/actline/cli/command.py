"""The click class of every actline command: flags shown as flags, and old spellings kept for one release.

Help shows a flag (``--json``, ``--quiet``, ``--help``) without a value placeholder, since it takes
none. An old spelling keeps working for one release and prints one line on stderr saying what to
write instead:

- a renamed option (:data:`RENAMED`: ``--force`` is ``--overwrite``) is rewritten;
- the ``--no-`` twin of a flag (``--no-quiet``, ``--no-overwrite``: what leaving the flag out
  means) is dropped;
- a positional argument that became an option (:func:`moved_to`: ``actline synth DIR`` is
  ``actline synth --out DIR``) becomes that option.
"""

from __future__ import annotations

from typer.core import TyperCommand, TyperGroup

RENAMED = {"--force": "--overwrite"}


def moved_to(option: str, index: int = 0):
    """Mark a command whose positional argument number ``index`` (counting the old arguments) is now ``option``."""

    def mark(fn):
        fn.actline_moved = (option, index)
        return fn

    return mark


def notice(text: str) -> None:
    """One line on stderr about an old spelling."""
    from actline.cli.render import err

    err.print(f"deprecated: {text} (the old spelling stops working in the next release)", markup=False,
              highlight=False, soft_wrap=True)


class _FlagsAsFlags:
    """Rich help would print ``<bool>`` after a flag, as if it took a value: an empty metavar prints nothing."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for p in self.params:
            if getattr(p, "is_flag", False) and p.metavar is None:
                p.metavar = ""

    def get_help_option(self, ctx):
        opt = super().get_help_option(ctx)
        if opt is not None:
            opt.metavar = ""
        return opt


class ActlineGroup(_FlagsAsFlags, TyperGroup):
    pass


class ActlineCommand(_FlagsAsFlags, TyperCommand):
    def parse_args(self, ctx, args):
        return super().parse_args(ctx, modernize(self, list(args)))


def modernize(cmd, args: list[str]) -> list[str]:
    """``args`` with old spellings replaced by the current ones (a notice for each)."""
    options = {o: p for p in cmd.params if p.param_type_name == "option" for o in (*p.opts, *p.secondary_opts)}
    result: list[str] = []
    positions: list[int] = []  # where the positional arguments are in result
    i = 0
    while i < len(args):
        word = args[i]
        i += 1
        if word == "--":
            result.append(word)
            positions += range(len(result), len(result) + len(args) - i)
            result += args[i:]
            break
        name, eq, value = word.partition("=")
        if name in RENAMED and name not in options and RENAMED[name] in options:
            notice(f"write {RENAMED[name]}, not {name}")
            name = RENAMED[name]
            word = name + eq + value
        elif name.startswith("--no-") and name not in options and getattr(options.get("--" + name[5:]), "is_flag", 0):
            notice(f"leave out {name}: leaving out --{name[5:]} means the same")
            continue
        result.append(word)
        if word.startswith("-") and word != "-":
            p = options.get(name)
            if p is not None and not p.is_flag and not p.count and not eq and i < len(args):
                result.append(args[i])
                i += 1
        else:
            positions.append(len(result) - 1)
    return _move_positional(cmd, result, positions)


def _move_positional(cmd, result: list[str], positions: list[int]) -> list[str]:
    moved = getattr(cmd.callback, "actline_moved", None)
    arguments = [p for p in cmd.params if p.param_type_name == "argument"]
    if moved is None or any(p.nargs < 0 for p in arguments):
        return result
    option, index = moved
    given = any(w == option or w.startswith(option + "=") for w in result)
    if len(positions) != sum(p.nargs for p in arguments) + 1 or given or index >= len(positions):
        return result
    value = result.pop(positions[index])
    notice(f"write {option} {value}, not {value} alone")
    end = result.index("--") if "--" in result else len(result)  # options go before a "--"
    return [*result[:end], option, value, *result[end:]]
