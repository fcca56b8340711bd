"""One rich progress bar style for every long step (disabled: ``None``, and callers skip updates)."""

from __future__ import annotations


class progress_bar:
    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __enter__(self):
        if not self.enabled:
            return None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            transient=False)
        return self.bar.__enter__()

    def __exit__(self, *exc):
        if self.enabled:
            return self.bar.__exit__(*exc)
        return False
