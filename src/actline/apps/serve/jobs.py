"""A bounded queue of file jobs with deadlines, testable without HTTP.

A job takes a slot when it is reserved (before its upload is read) and gives it back when its
work has really stopped, whatever happened: done, failed, abandoned (its upload failed), or timed
out. Its file is removed when it ends. Each job runs with the service's :class:`ReadLimits` and a
deadline ``timeout_s`` after it starts: readers stop at the deadline (cooperatively, in
``actline.data``), and a watchdog marks the job failed and removes its file at the deadline even
if the work has not noticed yet; its slot stays taken until the work returns, so slow work can
never pile up beyond ``size``.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from actline.core.errors import ActlineError
from actline.data.limits import DeadlineExceeded, ReadLimits, read_limits

ACTIVE = ("uploading", "queued", "running")


class QueueFull(Exception):
    """Every slot is taken."""


@dataclass
class Job:
    id: str
    status: str = "uploading"  # uploading -> queued -> running -> done | failed
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    result: Any = None
    error: str | None = None
    path: Path | None = None  # where its upload lives (never shown to clients)

    def to_dict(self) -> dict:
        out = {"id": self.id, "status": self.status, "created": self.created}
        for key in ("started", "finished", "error"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.status == "done":
            out["timeline"] = self.result
        return out


class JobQueue:
    """``run(path)`` for each submitted file, ``workers`` at a time, at most ``size`` jobs in flight."""

    def __init__(self, run: Callable[[Path], Any], size: int = 4, workers: int = 1, timeout_s: float = 600.0,
                 keep: int = 100, limits: ReadLimits | None = None, root: Path | None = None):
        self.run, self.size, self.timeout_s, self.keep = run, size, timeout_s, keep
        self.limits = limits or ReadLimits()
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="actline-jobs-"))  # 0700: private
        self.root.mkdir(parents=True, exist_ok=True)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="actline-job")
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._busy = 0  # slots taken: jobs in flight, and timed-out work that has not returned yet
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ slots
    def reserve(self) -> Job:
        """A new job in a slot, status ``uploading``; :class:`QueueFull` when every slot is taken."""
        with self._lock:
            if self._busy >= self.size:
                raise QueueFull(f"{self._busy} jobs are in progress (the limit is {self.size}); try again later")
            self._busy += 1
            job = Job(uuid.uuid4().hex)
            self._jobs[job.id] = job
            self._forget_old()
        return job

    def path_for(self, job: Job, suffix: str) -> Path:
        """Where the job's upload goes: our name in our private directory, never the client's."""
        job.path = self.root / f"{job.id}{suffix}"
        return job.path

    def abandon(self, job: Job) -> None:
        """The upload failed: forget the job, remove its file, free its slot."""
        with self._lock:
            if job.status != "uploading" or self._jobs.pop(job.id, None) is None:
                return
            job.status = "failed"
            self._busy -= 1
        self._remove(job)

    def start(self, job: Job) -> None:
        with self._lock:
            job.status = "queued"
        self._pool.submit(self._work, job)

    # ------------------------------------------------------------------ queries
    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def active(self) -> int:
        """Slots taken (what ``size`` bounds)."""
        return self._busy

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        shutil.rmtree(self.root, ignore_errors=True)

    # ------------------------------------------------------------------ work
    def _work(self, job: Job) -> None:
        with self._lock:
            if job.status != "queued":
                return
            job.status, job.started = "running", time.time()
        deadline = time.monotonic() + self.timeout_s
        watchdog = threading.Timer(self.timeout_s, self._expire, (job,))
        watchdog.daemon = True
        watchdog.start()
        try:
            with read_limits(replace(self.limits, deadline=deadline)):
                result = self.run(job.path)
            self._finish(job, "done", result=result)
        except DeadlineExceeded:
            self._finish(job, "failed", error=self._timeout_message())
        except ActlineError as exc:
            self._finish(job, "failed", error=self._scrub(job, str(exc)))
        except Exception as exc:  # noqa: BLE001 - a job must end with a status, whatever happened
            self._finish(job, "failed", error=self._scrub(job, f"{type(exc).__name__}: {exc}"))
        finally:
            watchdog.cancel()
            with self._lock:
                self._busy -= 1

    def _expire(self, job: Job) -> None:
        """The deadline passed and the work is still running: fail the job now, and remove its file."""
        self._finish(job, "failed", error=self._timeout_message())

    def _finish(self, job: Job, status: str, result: Any = None, error: str | None = None) -> None:
        """End a running job: its file goes first, so a client never sees an ended job's file."""
        with self._lock:
            if job.status != "running":  # already ended (by the watchdog)
                return
            self._remove(job)
            job.status, job.result, job.error, job.finished = status, result, error, time.time()

    def _timeout_message(self) -> str:
        return f"the job took longer than its time limit of {self.timeout_s:g} s and was stopped"

    def _scrub(self, job: Job, message: str) -> str:
        """One line, with our paths replaced: clients never see the server's file system."""
        line = " ".join(message.split())
        if job.path is not None:
            line = line.replace(str(job.path), "upload")
        return line.replace(str(self.root), "")[:500]

    def _remove(self, job: Job) -> None:
        if job.path is not None:
            job.path.unlink(missing_ok=True)

    def _forget_old(self) -> None:
        """Keep at most ``keep`` finished jobs (the oldest go first); jobs in flight are always kept."""
        finished = [k for k, j in self._jobs.items() if j.status not in ACTIVE]
        for k in finished[:max(0, len(finished) - self.keep)]:
            del self._jobs[k]
