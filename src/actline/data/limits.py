"""How much one input file may cost to read: caps checked before anything is allocated.

Every reader of an untrusted file takes its caps from a :class:`ReadLimits`: an explicit argument,
or else the limits in force for the current context (:func:`read_limits`), or else the defaults.
The service sets its own (smaller) limits and a per-job deadline around each job; the command line
reads with the defaults. The context is a :class:`contextvars.ContextVar`, so limits set in one
thread (a service job) never leak into another; code that hands work to a thread resolves them first.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from actline.core.errors import ActlineError

MB = 1 << 20


@dataclass(frozen=True)
class ReadLimits:
    """Caps on one input file. The defaults admit any real recording we know of with a wide margin
    (a Nagoya day file is 1.5 MB of text; a ThermalDataGen recording a few thousand 40x60 frames)."""

    max_decompressed_bytes: int = 1024 * MB  # text inside a .csv.gz
    max_frame_values: int = 1 << 28  # frames x H x W of a thermal recording (1 GiB as float32)
    max_video_s: float = 24 * 3600.0  # seconds of video decoded from one file
    max_video_pixels: int = 1 << 26  # width x height of one video frame (8K UHD is 2^24.98)
    max_label_bytes: int = 64 * MB  # a segments CSV, or a labelling tool's export (a day of segments is ~100 KB)
    deadline: float | None = None  # time.monotonic() after which reading stops with an error

    def check_values(self, where, shape: tuple[int, ...]) -> None:
        n = math.prod(int(s) for s in shape)
        if n > self.max_frame_values:
            raise ActlineError(where, f"frames of shape {tuple(shape)} hold {n:,} values, more than the limit of "
                                      f"{self.max_frame_values:,}")

    def check_file_size(self, path, cap: int | None = None) -> int:
        """The size of ``path`` in bytes, refused if over ``cap`` (default: ``max_label_bytes``) before it is read."""
        cap = self.max_label_bytes if cap is None else cap
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise ActlineError(path, "file not found") from None
        except OSError as exc:
            raise ActlineError(path, f"unreadable ({type(exc).__name__}: {exc})") from None
        if size > cap:
            raise ActlineError(path, f"holds {size:,} bytes, more than the limit of {cap:,}")
        return size

    def check_deadline(self, where) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise DeadlineExceeded(where, "reading stopped: the job's time limit has passed")


class DeadlineExceeded(ActlineError):
    """The deadline of :class:`ReadLimits` has passed (a service job ran out of time)."""


_CURRENT: ContextVar[ReadLimits] = ContextVar("actline_read_limits", default=ReadLimits())  # noqa: B039 - frozen


def current_limits(limits: ReadLimits | None = None) -> ReadLimits:
    """``limits`` if given, else the limits in force in this context."""
    return limits if limits is not None else _CURRENT.get()


@contextlib.contextmanager
def read_limits(limits: ReadLimits) -> Iterator[ReadLimits]:
    """Read with ``limits`` inside the block (in this thread or task only)."""
    token = _CURRENT.set(limits)
    try:
        yield limits
    finally:
        _CURRENT.reset(token)
