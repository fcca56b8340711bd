"""The one error type users see: a file (or object) and what is wrong with it."""

from __future__ import annotations

import os


class ActlineError(Exception):
    """A problem with user input, reported as one line: ``<where>: <what is wrong>``."""

    def __init__(self, where: str | os.PathLike | None, message: str):
        self.where = str(where) if where is not None else None
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:  # one line, always
        text = f"{self.where}: {self.message}" if self.where else self.message
        return " ".join(text.split())
