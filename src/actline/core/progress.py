"""One logging channel and one progress signature for every long step.

Library code logs with ``logging.getLogger(__name__)`` (the ``actline`` logger) and reports
progress through a :data:`Progress` callback, ``progress(task, done, total)``: ``task`` names the
step, ``done`` counts what is finished, ``total`` is the expected count (``None``: unknown).
The command line installs rich's logging handler (:func:`setup_logging`) and a rich progress bar
(:class:`RichProgress`); tests and library users pass nothing and see nothing.
"""

from __future__ import annotations

import logging
from typing import Callable

Progress = Callable[[str, float, "float | None"], None]


def setup_logging(quiet: bool = False, console=None) -> None:
    """Route the ``actline`` logger to stderr through rich (once; idempotent)."""
    from rich.logging import RichHandler

    logger = logging.getLogger("actline")
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    if not any(isinstance(h, RichHandler) for h in logger.handlers):
        logger.addHandler(RichHandler(console=console, show_time=False, show_path=False, markup=False,
                                      rich_tracebacks=False))
    logger.propagate = False


class RichProgress:
    """A rich progress bar as a :data:`Progress` callback: one bar per task name."""

    def __init__(self, enabled: bool = True, console=None):
        self.enabled, self.console, self.tasks = enabled, console, {}

    def __enter__(self) -> "RichProgress | None":
        if not self.enabled:
            return None
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            console=self.console, transient=False)
        self.bar.__enter__()
        return self

    def __call__(self, task: str, done: float, total: float | None = None) -> None:
        key = task.split(":")[0]  # "seed 0: loss 0.41" updates the bar of "seed 0"
        if key not in self.tasks:
            self.tasks[key] = self.bar.add_task(task, total=total)
        self.bar.update(self.tasks[key], completed=done, total=total, description=task)

    def __exit__(self, *exc):
        if self.enabled:
            return self.bar.__exit__(*exc)
        return False
