"""Reading a JSON file someone else wrote: the size capped before reading, one-line errors naming the file."""

from __future__ import annotations

import json
from pathlib import Path

from actline.core.errors import ActlineError


def read_json(path: str | Path, max_bytes: int | None = None, what: str = "") -> object:
    """The parsed content of ``path``; ``what`` (e.g. "a model config") names the file in the size error."""
    path = Path(path)
    if not path.is_file():
        raise ActlineError(path, "file not found")
    size = path.stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise ActlineError(path, f"too large{' for ' + what if what else ''} ({size} bytes, at most {max_bytes})")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ActlineError(path, f"not valid JSON ({exc})") from None
    except OSError as exc:
        raise ActlineError(path, f"unreadable ({type(exc).__name__}: {exc})") from None


def read_json_object(path: str | Path, max_bytes: int | None = None, what: str = "") -> dict:
    """As :func:`read_json`, and the top level must be an object."""
    obj = read_json(path, max_bytes, what)
    if not isinstance(obj, dict):
        raise ActlineError(path, f"expected a JSON object at the top level, found {type(obj).__name__}")
    return obj
