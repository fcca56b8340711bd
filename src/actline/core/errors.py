"""The one error type users see: a file (or object) and what is wrong with it."""

from __future__ import annotations

import difflib
import os
from typing import Iterable


class ActlineError(Exception):
    """A problem with user input, reported as one line: ``<where>: <what is wrong>``."""

    def __init__(self, where: str | os.PathLike | None, message: str):
        self.where = str(where) if where is not None else None
        self.message = message
        super().__init__(str(self))

    def __reduce__(self):  # pickled with both fields, so it crosses process boundaries (Ray tasks, worker pools) whole
        return type(self), (self.where, self.message)

    def __str__(self) -> str:  # one line, always
        text = f"{self.where}: {self.message}" if self.where else self.message
        return " ".join(text.split())


def unknown_value(value: str, known: Iterable[str], what: str = "value") -> str:
    """``unknown value 'x'; did you mean 'y'? (choose from ...)``: the message for a value outside a known
    set, with the nearest known value when one is close."""
    known = [str(k) for k in known]
    near = difflib.get_close_matches(str(value), known, n=1, cutoff=0.6)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    return f"unknown {what} {value!r}{hint} (choose from {', '.join(known)})"
