"""Live sensors recorded as they stream: ``DIR/frames/<sensor>_<start>.h5`` in the ThermalDataGen layout.

``Recorder(DIR).add(sensor, t, frame)`` appends each frame to the sensor's open recording, a
:mod:`frame journal <actline.data.recordings.frame_journal>` under a hidden name (``frames/.<name>.journal``). A
recording is closed when it spans ``minutes`` of the sensor's clock (the next frame starts the next
one), when the sensor has sent nothing for as long, when its frame size changes or its clock goes
back, before it would hold more values than the read limits let a reader take
(:class:`~actline.data.limits.ReadLimits`: so every recording reads back), and when the recorder closes; a thread then writes it as ``frames/<name>.h5`` (frames float32
°C, timestamps int64 ms of the sensor's clock, as :func:`~actline.data.recordings.thermal_h5_file.write_recording_h5`
writes every recording: a temporary file renamed into place) and deletes the journal. So ``frames/``
only ever holds complete recordings.

``<name>`` is the sensor id (hashed when it is no safe file name,
:func:`~actline.core.hashing.safe_file_name`), ``_``, and the UTC time of the recording's first frame
(``20261207T083012Z``): its sensor time when that reads as a Unix time, else the computer's clock at
the sensor's first frame plus the sensor time since (so one sensor's names sort in its own time).
The room (the name up to its first underscore) is the sensor id's up to its first underscore.

Journals left by a process that was killed are recovered when a recorder next opens ``DIR``
(:func:`recover_journals`): every complete record up to the last good one becomes the ``.h5``, and
a journal that cannot be read is renamed ``.<name>.journal.damaged``, with one line saying why.

Recording stops for good (a line in the log, and :meth:`Recorder.status`) when ``frames/`` would
exceed ``max_bytes`` or the disk has less than ``min_free_bytes`` left, or a write fails; the caller
(the stream) goes on. :meth:`Recorder.status` also says, per sensor, the frames recorded, the files
written and the bytes they take on the disk (an open journal counted as it stands, a closed file as its ``.h5``).
"""

from __future__ import annotations

import logging
import math
import os
import queue
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from actline.core.errors import ActlineError
from actline.core.hashing import safe_file_name
from actline.data.limits import ReadLimits, current_limits
from actline.data.recordings.frame_journal import HEADER, JOURNAL, JournalWriter, convert_journal, recover_journals

log = logging.getLogger(__name__)
UNIX_2000 = 946_684_800.0


@dataclass
class RecordConfig:
    minutes: float = 10.0  # a recording spans at most this much of the sensor's clock
    flush_s: float = 5.0  # open recordings are fsync-ed this often (wall clock)
    max_bytes: int | None = None  # stop recording when frames/ would hold more
    min_free_bytes: int = 256_000_000  # ... or when the disk has less than this free

    def validate(self) -> RecordConfig:
        for name in ("minutes", "flush_s"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ActlineError(f"--record-{name.replace('_', '-')}", f"must be a number > 0, got {v!r}")
        if self.max_bytes is not None and not self.max_bytes > 0:
            raise ActlineError("--record-max-gb", f"must be > 0, got {self.max_bytes / 1e9:g}")
        return self


def utc_stamp(t: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t))


def size_text(n: float) -> str:
    """Bytes for people: ``19.5 kB``, ``1.02 GB`` (powers of 1000, as ``--record-max-gb``)."""
    for unit, k in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= k:
            return f"{n / k:.3g} {unit}"
    return f"{int(n)} B"


def dir_bytes(d: Path) -> int:
    """The bytes of the files in ``d`` (not below it)."""
    total = 0
    with os.scandir(d) as it:
        for e in it:
            try:
                total += e.stat(follow_symlinks=False).st_size if e.is_file(follow_symlinks=False) else 0
            except FileNotFoundError:  # deleted meanwhile (a journal just converted)
                pass
    return total


@dataclass
class _Open:
    writer: JournalWriter
    sensor: str
    name: str
    start_ms: int
    last_ms: int
    last_wall: float
    last_sync: float
    synced: int = 0


@dataclass
class _Tally:
    """One sensor's recording so far: frames recorded, files written, bytes of its closed files (and of the
    journals being written as files)."""

    frames: int = 0
    files: int = 0
    bytes: int = 0


class Recorder:
    """Records every sensor's frames under ``root/frames``; thread-safe."""

    def __init__(self, root: str | Path, cfg: RecordConfig | None = None, clock=time.monotonic,
                 limits: ReadLimits | None = None):
        self.cfg, self.clock, self.limits = (cfg or RecordConfig()).validate(), clock, current_limits(limits)
        self.root, self.frames_dir = Path(root), Path(root) / "frames"
        try:
            self.frames_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ActlineError(self.frames_dir, f"cannot create the recording directory ({exc.strerror})") from None
        self.recovered = recover_journals(self.frames_dir)
        self.lock = threading.RLock()
        self.open: dict[str, _Open] = {}
        self.names: set[str] = set()  # open or being converted
        self.anchors: dict[str, tuple[float, float]] = {}  # sensor -> (its time, the computer's) at its first frame
        self.tally: dict[str, _Tally] = {}
        self.stopped: str | None = None
        self.files = self.frames = self.not_recorded = 0
        self.scanned, self.pending, self.last_scan = dir_bytes(self.frames_dir), 0, clock()
        self.jobs: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._convert_loop, name="actline-recorder", daemon=True)
        self.thread.start()
        self.closed = False
        self._check_disk()

    # ------------------------------------------------------------------ frames in
    def add(self, sensor: str, t: float, frame) -> bool:
        """Record one frame (``t`` in seconds of the sensor's clock); False when it was not recorded."""
        x = np.asarray(frame, dtype=np.float32)
        with self.lock:
            if self.stopped or self.closed or x.ndim != 2 or not math.isfinite(t) or not np.isfinite(x).all():
                self.not_recorded += 1
                return False
            now, t_ms = self.clock(), int(round(t * 1000))
            rec = self.open.get(sensor)
            if rec is not None and (t_ms - rec.start_ms >= self.cfg.minutes * 60_000 or t_ms < rec.last_ms
                                    or x.shape != rec.writer.shape
                                    or (rec.writer.n + 1) * x.size > self.limits.max_frame_values):
                self._close(sensor)
                rec = None
            need = x.size * 4 + 8 + (HEADER.size + 256 if rec is None else 0)
            if not self._room(need):
                self.not_recorded += 1
                return False
            try:
                if rec is None:
                    rec = self._open(sensor, t, t_ms, x.shape, now)
                rec.writer.append(t_ms, x)
                if now - rec.last_sync >= self.cfg.flush_s:
                    self._sync(rec, now)
            except OSError as exc:
                self._stop(f"cannot write in {self.frames_dir} ({exc.strerror or exc})")
                self.not_recorded += 1
                return False
            rec.last_ms, rec.last_wall = t_ms, now
            self.frames += 1
            self.tally[sensor].frames += 1
            self.pending += need
            return True

    def tick(self) -> None:
        """Flush what is due, close the recordings of sensors gone quiet, re-measure the disk (call every second or so)."""
        with self.lock:
            now = self.clock()
            for sensor, rec in list(self.open.items()):
                if now - rec.last_wall >= self.cfg.minutes * 60:
                    self._close(sensor)
                elif now - rec.last_sync >= self.cfg.flush_s and rec.writer.n > rec.synced:
                    try:
                        self._sync(rec, now)
                    except OSError as exc:
                        self._stop(f"cannot write in {self.frames_dir} ({exc.strerror or exc})")
            if now - self.last_scan >= self.cfg.flush_s and not self.stopped:
                self.scanned, self.pending, self.last_scan = dir_bytes(self.frames_dir), 0, now
                self._check_disk()

    def close(self, wait_s: float | None = None) -> None:
        """Close every open recording and wait for them to be written as ``.h5``."""
        with self.lock:
            if self.closed:
                return
            for sensor in list(self.open):
                self._close(sensor)
            self.closed = True
            self.jobs.put(None)
        self.thread.join(wait_s)

    def status(self) -> dict:
        with self.lock:
            return {"dir": str(self.root), "recording": self.stopped is None and not self.closed, "stopped": self.stopped,
                    "open": sorted(r.name for r in self.open.values()), "files": self.files, "frames": self.frames,
                    "not_recorded": self.not_recorded, "bytes": self.scanned + self.pending,
                    "max_bytes": self.cfg.max_bytes, "recovered": list(self.recovered), "sensors": self._sensors()}

    def _sensors(self) -> dict:
        """Per sensor: frames recorded, files written, bytes on the disk (its open journal as it stands)."""
        return {s: {"frames": t.frames, "files": t.files,
                    "bytes": t.bytes + (self.open[s].writer.bytes if s in self.open else 0)}
                for s, t in sorted(self.tally.items())}

    # ------------------------------------------------------------------ inside (the lock held)
    def _name(self, sensor: str, t: float) -> str:
        start = t
        if not UNIX_2000 <= t <= time.time() + 86_400:  # not a Unix time: the sensor's clock from the computer's
            t0, wall0 = self.anchors.get(sensor, (math.inf, 0.0))
            if t < t0:
                t0, wall0 = self.anchors[sensor] = (t, time.time())
            start = wall0 + (t - t0)
        base = f"{safe_file_name(sensor)}_{utc_stamp(start)}"
        name, k = base, 1
        while name in self.names or (self.frames_dir / f"{name}.h5").exists() or self._journal(name).exists():
            k += 1
            name = f"{base}-{k}"
        return name

    def _journal(self, name: str) -> Path:
        return self.frames_dir / f".{name}{JOURNAL}"

    def _open(self, sensor: str, t: float, t_ms: int, shape, now: float) -> _Open:
        name = self._name(sensor, t)
        writer = JournalWriter(self._journal(name), shape, {"name": name, "sensor": sensor})
        self.names.add(name)
        rec = self.open[sensor] = _Open(writer, sensor, name, t_ms, t_ms, now, now)
        self.tally.setdefault(sensor, _Tally())
        return rec

    def _sync(self, rec: _Open, now: float) -> None:
        rec.writer.sync()
        rec.last_sync, rec.synced = now, rec.writer.n

    def _close(self, sensor: str) -> None:
        rec = self.open.pop(sensor)
        self.tally[sensor].bytes += rec.writer.bytes  # until its .h5 replaces it
        self.jobs.put(rec)

    def _room(self, nbytes: int) -> bool:
        cap = self.cfg.max_bytes
        if cap is not None and self.scanned + self.pending + nbytes > cap:
            self._stop(f"the cap of {size_text(cap)} (--record-max-gb) is reached: "
                       f"{size_text(self.scanned + self.pending)} in {self.frames_dir}")
        return self.stopped is None

    def _check_disk(self) -> None:
        self._room(0)
        free = shutil.disk_usage(self.frames_dir).free
        if free < self.cfg.min_free_bytes:
            self._stop(f"the disk of {self.frames_dir} has {size_text(free)} free (recording keeps "
                       f"{size_text(self.cfg.min_free_bytes)} free)")

    def _stop(self, why: str) -> None:
        if self.stopped:
            return
        self.stopped = why
        log.error("recording stopped: %s; the stream goes on", why)
        for sensor in list(self.open):
            self._close(sensor)

    # ------------------------------------------------------------------ the writing thread
    def _convert_loop(self) -> None:
        while (rec := self.jobs.get()) is not None:
            try:
                target = self.frames_dir / f"{rec.name}.h5"
                n, _ = convert_journal(rec.writer.path, target, rec.writer)
                size = target.stat().st_size if n else 0  # a journal without a frame writes no file
                with self.lock:
                    self.files += bool(n)
                    tally = self.tally[rec.sensor]
                    tally.files += bool(n)
                    tally.bytes += size - rec.writer.bytes
            except Exception as exc:  # noqa: BLE001 - whatever it is, the journal stays for the next start to recover
                with self.lock:
                    self._stop(f"cannot write {rec.name}.h5 ({exc}); its frames stay in {rec.writer.path.name}")
            finally:
                rec.writer.close()
                with self.lock:
                    self.names.discard(rec.name)
