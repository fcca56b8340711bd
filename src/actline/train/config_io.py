"""Settings dataclasses filled from YAML files, ``--set key=value`` overrides and saved configs.

One reader for every settings dataclass (:class:`~actline.train.config.TrainConfig`,
:class:`~actline.train.timeline_fit.TimelineConfig`): values are coerced to each field's declared
type, nested dataclasses take a mapping (or dotted keys: ``--set window.length=32``), and a
dataclass may list old spellings of its settings (``RENAMED``: old key -> new dotted key) that keep
working for one release. What a user typed (a file or ``--set``) prints a one-line deprecation on
stderr for an old spelling; a saved config (:func:`apply` with ``quiet=True``) is read silently.
"""

from __future__ import annotations

import dataclasses
import difflib
import sys
import types
import typing
from pathlib import Path

import yaml

from actline.core.errors import ActlineError

_TYPE_WORDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string",
               tuple: "a list of numbers", list: "a list", dict: "a mapping"}
_NONE_WORDS = ("none", "null", "")
_warned: set[tuple[str, str]] = set()


def deprecated(where: str, old: str, new: str) -> None:
    """One line on stderr, once per process and spelling: ``old`` is now ``new``."""
    if (where, old) not in _warned:
        _warned.add((where, old))
        print(f"{where}: {old!r} is deprecated, write {new!r} (the old spelling is read until the next "
              "release)", file=sys.stderr)


def _hints(cls) -> dict:
    return typing.get_type_hints(cls)


def _base(hint):
    """(the type a field holds, whether it may be None)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return _base(args[0])[0], True
    return (origin or hint), False


def _coerce(value, hint, named_none: bool):
    kind, optional = _base(hint)
    if value is None or (optional and not named_none and isinstance(value, str) and value.lower() in _NONE_WORDS):
        if optional:
            return None
        raise ValueError
    if kind is bool:
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.lower() in ("1", "true", "yes", "on")
        if isinstance(value, (bool, int)):
            return bool(value)
        raise ValueError
    if kind is int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError
        return int(value)
    if kind is float:
        if isinstance(value, bool):
            raise ValueError
        return float(value)
    if kind is tuple:
        vals = value if isinstance(value, (list, tuple)) else yaml.safe_load(str(value))
        return tuple(float(v) for v in vals)
    if kind is list:
        vals = value if isinstance(value, (list, tuple)) else str(value).split(",")
        return [str(v).strip() for v in vals if str(v).strip()]
    if kind is dict:
        value = yaml.safe_load(value) or {} if isinstance(value, str) else value
        if not isinstance(value, dict):
            raise ValueError
        return value
    if kind is str:
        if isinstance(value, (dict, list)):
            raise ValueError
        return str(value)
    return value


def renamed(cfg, values: dict, where: str, quiet: bool) -> dict:
    """``values`` with old spellings moved to their nested homes: a key in ``cfg.RENAMED`` (old -> "group.leaf"),
    or a bare value where a group of settings is expected (its ``BARE`` setting: ``window=32``)."""
    out: dict = {}
    for key, value in values.items():
        new = getattr(cfg, "RENAMED", {}).get(key)
        group = getattr(cfg, key, None)
        if new is None and dataclasses.is_dataclass(group) and not isinstance(value, dict) \
                and getattr(group, "BARE", None):
            new = f"{key}.{group.BARE}"
        if new is None:
            merge = isinstance(value, dict) and isinstance(out.get(key), dict)
            out[key] = {**out[key], **value} if merge else value
            continue
        if not quiet:
            deprecated(where, key, new)
        name, leaf = new.split(".", 1)
        out[name] = {**(out.get(name) if isinstance(out.get(name), dict) else {}), leaf: value}
    return out


def apply(cfg, values: dict, where: str = "config", quiet: bool = False, prefix: str = ""):
    """Set fields of ``cfg`` from a (nested) mapping; an unknown key or a value of the wrong type is an error
    naming ``where``. Old spellings are read (with a deprecation line on stderr unless ``quiet``: saved
    configs)."""
    names = [f.name for f in dataclasses.fields(cfg)]
    hints, named_none = _hints(type(cfg)), getattr(cfg, "NAMED_NONE", ())
    for key, value in renamed(cfg, values, where, quiet).items():
        if key in getattr(cfg, "IGNORED", ()):
            continue
        if key not in names:
            close = [prefix + c for c in difflib.get_close_matches(key, names, n=3)]
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            raise ActlineError(where, f"unknown setting {prefix + key!r}{hint}")
        current = getattr(cfg, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ActlineError(where, f"{prefix + key} expects a mapping, got {value!r}")
            apply(current, value, where, quiet, f"{prefix}{key}.")
            continue
        try:
            setattr(cfg, key, _coerce(value, hints[key], key in named_none))
        except (TypeError, ValueError):
            words = _TYPE_WORDS.get(_base(hints[key])[0], str(hints[key]))
            raise ActlineError(where, f"{prefix + key} expects {words}, got {value!r}") from None
    return cfg


def read_yaml(path: str | Path) -> dict:
    """A YAML mapping of settings, or a one-line error naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ActlineError(path, "config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ActlineError(path, f"not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ActlineError(path, "a config file must be a mapping of settings")
    return data


def parse_override(item: str) -> dict:
    """``a.b=value`` -> ``{"a": {"b": value}}`` (the value read as YAML)."""
    if "=" not in item:
        raise ActlineError("--set", f"expected key=value, got {item!r}")
    key, value = item.split("=", 1)
    nested: dict = {}
    node = nested
    parts = key.strip().split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    try:
        node[parts[-1]] = yaml.safe_load(value) if value.strip() else value
    except yaml.YAMLError:
        node[parts[-1]] = value
    return nested


def load_settings(cfg, path: str | Path | None = None, overrides: list[str] | None = None,
                  given: set | None = None):
    """Fill a settings dataclass from a YAML file, then ``key=value`` overrides; the top-level names the user
    gave are added to ``given`` (old spellings under their new names)."""
    layers = [(read_yaml(path), str(path))] if path else []
    layers += [(parse_override(item), "--set") for item in overrides or []]
    for values, where in layers:
        apply(cfg, values, where)
        if given is not None:
            given.update(renamed(cfg, values, where, quiet=True))
    return cfg
