"""Stopping a long-running command the way service managers do: SIGTERM (``systemctl stop``, ``docker stop``,
``kill``) ends it as Ctrl-C does, so that its clean-up runs (open recordings closed whole, states saved)."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager


@contextmanager
def stop_on_sigterm():
    """Inside the block, the first SIGTERM raises ``KeyboardInterrupt`` in the main thread; a second one, while
    the clean-up runs, is ignored (a service manager sends SIGKILL when its stop timeout runs out). Outside the
    main thread, where Python cannot set signal handlers, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _stop(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
