"""One function mapped over many items (files, folds): here, one after another, or as tasks on a Ray cluster.

:func:`map_tasks` calls ``fn(shared, item, progress)`` for every item and yields the results in the
items' order. The function is the same whichever way it runs, so a run on a cluster writes and
returns what a run here does. Without ``cluster`` the items run here, in order. With ``cluster`` (a
Ray address: ``auto`` for the cluster started on this machine with ``ray start --head``, or
``HOST:PORT`` of its head) each item is one Ray task (``pip install 'actline[ray]'``):

- ``shared`` goes into Ray's object store once and is read once per worker process, so what a
  :class:`Job` loads lazily (a model) is loaded once per worker, not once per item;
- a task whose worker process or node dies is run again, up to :data:`RETRIES` times (Ray's
  ``max_retries``); an error raised by ``fn`` is not retried (bad input stays bad) and reaches the
  caller as itself. So a task that writes files must write each atomically under a name that
  depends only on its item (:mod:`actline.core.atomic`): a second attempt replaces what a first one
  wrote, never adds to it. Anything written once per run (a summary, a review queue) is written by
  the caller from the results, never by a task;
- the tasks' progress and the records of their ``actline`` loggers come back to this process and go
  to ``progress`` and to the same loggers, as they would here;
- tasks run in this process's working directory, so relative paths mean the same on every node:
  the folder must be on storage that every node mounts at the same path.

Ray's API as documented: ``ray.init(address=...)``, ``ray.remote(...).options(max_retries=...,
num_cpus=...)``, ``ray.wait``/``ray.get``/``ray.put``/``ray.cancel``, and application errors wrapped in
``RayTaskError`` with the original in ``cause`` (https://docs.ray.io/en/latest/ray-core/api/doc/ray.init.html,
https://docs.ray.io/en/latest/ray-core/fault_tolerance/tasks.html).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from actline.core.errors import ActlineError
from actline.core.progress import Progress

RETRIES = 3  # runs of a task after its worker died (Ray's default for tasks, written down)
POLL_S = 0.2  # how often this process looks for finished tasks and relays their progress
SEND_EVERY_S = 0.25  # how often a task sends its progress and log records back


class Job:
    """The ``shared`` object of :func:`map_tasks` for tasks that load something once per process (a model):
    ``self.once(key, make)``. What it loaded is never pickled with it: a worker loads its own."""

    def once(self, key, make: Callable[[], Any]):
        loaded = self.__dict__.setdefault("_loaded", {})
        if key not in loaded:
            loaded[key] = make()
        return loaded[key]

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_loaded"}


def require_ray():
    """The ``ray`` module. Without it, ``ModuleNotFoundError``, which the command line turns into one line
    naming the extra to install (:func:`actline.core.extras.missing_extra`)."""
    import ray

    return ray


def map_tasks(fn: Callable, items: Iterable, shared: Any = None, *, cluster: str | None = None,
              progress: Progress | None = None, name: str = "tasks", label: Callable[[Any], str] | None = None,
              cpus: float = 1) -> Iterator:
    """``fn(shared, item, progress)`` for each item, results in the items' order; here, or on the Ray cluster
    at ``cluster``. ``progress`` also gets one bar, ``name``, counting finished items; ``label(item)`` tags an
    item's own progress (``"fold 1 · seed 0"``) where items would otherwise share a bar. ``cpus``: what one task
    takes of a Ray node (its threads)."""
    items = list(items)
    if cluster is None:
        return _here(fn, items, shared, progress, name, label)
    return _RayMap(cluster, progress, name, label).run(fn, items, shared, cpus)


def _here(fn, items: list, shared, progress, name: str, label) -> Iterator:
    for i, item in enumerate(items):
        result = fn(shared, item, _tagged(progress, label(item) if label else None))
        if progress:
            progress(name, i + 1, len(items))
        yield result


def _tagged(progress: Progress | None, tag: str | None) -> Progress | None:
    if progress is None or not tag:
        return progress
    return lambda task, done, total=None: progress(f"{tag} · {task}", done, total)


class _RayMap:
    """This process's side of a run on Ray: submit, relay progress and logs, collect in order, clean up."""

    def __init__(self, cluster: str, progress, name: str, label):
        self.cluster, self.progress, self.name, self.label = cluster, progress, name, label
        self.ray = require_ray()
        self.relay, self.pending = None, []

    def run(self, fn, items: list, shared, cpus: float) -> Iterator:
        ray, stdout, started = self.ray, sys.stdout, False
        sys.stdout = _OnlyThisThread(stdout, sys.stderr)
        try:
            started = _connect(ray, self.cluster)
            self.relay = ray.remote(num_cpus=0)(_Relay).remote()
            box = [ray.put(shared)]  # inside a list, so that Ray passes the reference and each worker reads it once
            task = ray.remote(_attempt).options(max_retries=RETRIES, num_cpus=cpus)
            level = logging.getLogger("actline").getEffectiveLevel()
            refs = [task.remote(fn, box, item, self.relay, self.label(item) if self.label else None, level,
                                os.getcwd()) for item in items]
            yield from self._collect(refs, items)
        finally:
            try:
                self._stop(started)
            finally:
                sys.stdout = stdout

    def _collect(self, refs: list, items: list) -> Iterator:
        index = {ref: i for i, ref in enumerate(refs)}
        self.pending, done, finished, next_i = list(refs), {}, 0, 0
        while self.pending:
            ready, self.pending = self.ray.wait(self.pending, num_returns=len(self.pending), timeout=POLL_S)
            self._relay_events()
            for ref in ready:
                i = index[ref]
                done[i] = self._result(ref, self.label(items[i]) if self.label else str(items[i]))
                finished += 1
                if self.progress:
                    self.progress(self.name, finished, len(items))
            while next_i in done:
                yield done.pop(next_i)
                next_i += 1

    def _result(self, ref, where: str):
        ray = self.ray
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:  # fn raised: bad input, or an extra missing on that node
            cause = getattr(exc, "cause", None)
            if isinstance(cause, (ActlineError, ImportError)):
                raise cause from None
            raise
        except ray.exceptions.RayError as exc:  # its worker or node died on every attempt
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ActlineError(where, f"its Ray task failed {RETRIES + 1} times ({type(exc).__name__}: "
                                      f"{first})") from None

    def _relay_events(self) -> None:
        if self.relay is None:
            return
        try:
            events = self.ray.get(self.relay.drain.remote(), timeout=10)
        except self.ray.exceptions.RayError:  # the relay's node went away: the tasks go on, unreported
            self.relay = None
            return
        for kind, *rest in events:
            if kind == "progress" and self.progress:
                self.progress(*rest)
            elif kind == "log":
                logger, level, message = rest
                logging.getLogger(logger).log(level, "%s", message)

    def _stop(self, started: bool) -> None:
        ray = self.ray
        for ref in self.pending:  # an error or an interruption: the other tasks are not wanted any more
            try:
                ray.cancel(ref)
            except Exception:  # noqa: BLE001 - already finished or gone: nothing to cancel
                pass
        if self.relay is not None:
            try:
                ray.kill(self.relay)
            except Exception:  # noqa: BLE001
                pass
        if started:
            ray.shutdown()


class _OnlyThisThread:
    """This process's stdout while tasks run on Ray: the thread that started the run (which prints results)
    writes to it; any other thread to stderr. Ray's driver prints what the cluster says (a worker died, a task
    will be retried) to stdout from threads of its own, which would break ``--json`` output."""

    def __init__(self, out, err):
        self.out, self.err, self.thread = out, err, threading.get_ident()

    def write(self, text: str) -> int:
        return (self.out if threading.get_ident() == self.thread else self.err).write(text)

    def flush(self) -> None:
        self.out.flush()
        self.err.flush()

    def __getattr__(self, name):
        return getattr(self.out, name)


def _connect(ray, cluster: str) -> bool:
    """Join the cluster at ``cluster`` unless this process already has; True when this call joined it."""
    if ray.is_initialized():
        return False
    try:
        ray.init(address=cluster, logging_level=logging.WARNING, log_to_driver=False)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ActlineError("--ray", f"no Ray cluster at {cluster!r}: start one with `ray start --head` on this "
                                    f"machine (then --ray auto) or give its head's HOST:PORT (Ray says: {first})") from None
    return True


class _Relay:
    """A Ray actor holding the tasks' progress and log records until this process collects them."""

    def __init__(self):
        self.events: list = []

    def put(self, events: list) -> None:
        self.events.extend(events)

    def drain(self) -> list:
        events, self.events = self.events, []
        return events


class _Sender(logging.Handler):
    """A task's progress callback and ``actline`` log handler: batches events to the relay."""

    def __init__(self, relay, tag: str | None, level: int):
        super().__init__(level)
        self.relay, self.tag, self.events, self.last = relay, tag, [], 0.0

    def progress(self, task: str, done: float, total: float | None = None) -> None:
        self.events.append(("progress", f"{self.tag} · {task}" if self.tag else task, done, total))
        if time.monotonic() - self.last >= SEND_EVERY_S:
            self.send()

    def emit(self, record: logging.LogRecord) -> None:
        self.events.append(("log", record.name, record.levelno, record.getMessage()))

    def send(self, wait: bool = False) -> None:
        import ray

        self.last = time.monotonic()
        if not self.events:
            return
        events, self.events = self.events, []
        try:
            ref = self.relay.put.remote(events)
            if wait:  # the last batch is in the relay before the task's result is
                ray.get(ref, timeout=10)
        except ray.exceptions.RayError:
            pass  # progress is not worth failing a task for


_SHARED: dict = {}  # this worker process's copy of the latest run's shared object, by its object id


def _attempt(fn, box: list, item, relay, tag: str | None, level: int, cwd: str):
    """One attempt at one item, in a Ray worker process."""
    import ray

    key = box[0].hex()
    if key not in _SHARED:
        _SHARED.clear()
        _SHARED[key] = ray.get(box[0])
    try:
        os.chdir(cwd)
    except OSError:
        node = ray.get_runtime_context().get_node_id()[:8]
        raise ActlineError(cwd, f"not found on Ray node {node}: run from a folder that every node mounts at the "
                                "same path") from None
    sender = _Sender(relay, tag, level)
    logger = logging.getLogger("actline")
    logger.addHandler(sender)
    logger.setLevel(level)
    try:
        return fn(_SHARED[key], item, sender.progress)
    finally:
        logger.removeHandler(sender)
        sender.send(wait=True)
