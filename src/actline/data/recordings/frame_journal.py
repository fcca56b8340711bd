"""An append-only journal of one sensor's frames: what a live recording is while it is open.

An HDF5 file is not safe to append to across a crash: a writer killed mid-write leaves its metadata
out of step with its data, and even an SWMR writer leaves a superblock mark that stops ordinary
readers from opening the file until ``h5clear`` removes it (HDF5's h5clear guide,
support.hdfgroup.org/documentation/hdf5/latest/_h5_t_o_o_l__c_r__u_g.html). So an open recording is
this journal, under a hidden name that no reader takes, and it becomes a ``.h5`` recording only when
it is closed (:func:`convert_journal`, called by :mod:`actline.data.recordings.recorder`), or, after a crash,
when a recorder next opens the directory (:func:`recover_journals`).

Layout, little-endian: a header, then fixed-size records::

    header   magic b"ACTJ" | uint8 version (1) | uint8 0 | uint16 height | uint16 width | uint32 n
             | n bytes of UTF-8 JSON ({"name": recording, "sensor": sensor id})
    record   int64 timestamp (ms, the sensor's clock) | height x width float32 °C

Each record is written with one ``write`` as it arrives (so it survives the process being killed) and
the file is ``fsync``-ed every few seconds (so a power cut loses at most those seconds). A reader
keeps the complete records, and of those the longest run that is finite and never goes back in
time: a torn last record, or zeros left by a power cut, end the journal there.

The writer holds an exclusive ``flock`` on the journal while it is open (Linux flock(2): released when
the process ends, however it ends), so a recovery in another process never takes a journal that a
live writer still holds.
"""

from __future__ import annotations

import json
import logging
import os
import struct
from pathlib import Path

import numpy as np

from actline.core.errors import ActlineError
from actline.core.hashing import safe_file_name
from actline.data.limits import ReadLimits, current_limits
from actline.data.recordings.thermal_h5_file import write_recording_h5

try:
    import fcntl
except ImportError:  # not POSIX: no locks; one recording process per directory then
    fcntl = None

log = logging.getLogger(__name__)
MAGIC, VERSION = b"ACTJ", 1
HEADER = struct.Struct("<4sBBHHI")
MAX_SIDE = 512  # pixels a side, as the MQTT payloads
MAX_META_BYTES = 4096
JOURNAL, NEW, DAMAGED = ".journal", ".new", ".damaged"  # NEW: a journal being created (no frames yet)


def record_dtype(h: int, w: int) -> np.dtype:
    return np.dtype([("t", "<i8"), ("frame", "<f4", (h, w))])


def lock(fd: int, wait: bool = False) -> bool:
    """Take the exclusive lock on an open journal; False when another process holds it."""
    if fcntl is None:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


class JournalWriter:
    """A new journal at ``path`` (which must not exist) for frames of ``shape``; locked while open."""

    def __init__(self, path: str | Path, shape: tuple[int, int], meta: dict):
        self.path, self.shape = Path(path), (int(shape[0]), int(shape[1]))
        h, w = self.shape
        if not (0 < h <= MAX_SIDE and 0 < w <= MAX_SIDE):
            raise ActlineError(self.path, f"frames of {h}x{w} are outside 1..{MAX_SIDE} a side")
        blob = json.dumps(meta).encode()
        if len(blob) > MAX_META_BYTES:
            raise ActlineError(self.path, f"journal metadata of {len(blob)} bytes (at most {MAX_META_BYTES})")
        self.record_bytes = record_dtype(h, w).itemsize
        # written and locked under a temporary name first: whoever sees the journal's name finds it locked
        tmp = self.path.with_name(self.path.name + NEW)
        self.fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            lock(self.fd, wait=True)
            self._write(HEADER.pack(MAGIC, VERSION, 0, h, w, len(blob)) + blob)
            os.fsync(self.fd)
            os.link(tmp, self.path)  # never replaces: FileExistsError if the name is taken
            tmp.unlink()
            self.sync(directory=True)
        except BaseException:
            os.close(self.fd)
            tmp.unlink(missing_ok=True)
            raise
        self.n = 0
        self.bytes = HEADER.size + len(blob)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]

    def append(self, t_ms: int, frame: np.ndarray) -> None:
        self._write(struct.pack("<q", int(t_ms)) + np.ascontiguousarray(frame, dtype="<f4").tobytes())
        self.n += 1
        self.bytes += self.record_bytes

    def sync(self, directory: bool = False) -> None:
        os.fsync(self.fd)
        if directory:  # the journal's name itself, once
            from actline.core.atomic import fsync_path

            fsync_path(self.path.parent)

    def close(self) -> None:
        """Sync and close (which releases the lock)."""
        if self.fd >= 0:
            try:
                os.fsync(self.fd)
            finally:
                os.close(self.fd)
                self.fd = -1


def read_journal(path: str | Path, limits: ReadLimits | None = None) -> tuple[dict, np.ndarray, np.ndarray, str]:
    """(metadata, frames [N, H, W] float32 °C, timestamps [N] int64 ms, what was left out) of a journal.

    Sizes are checked before anything is read; an unreadable header raises :class:`ActlineError`.
    """
    path, limits = Path(path), current_limits(limits)
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(HEADER.size)
        if len(head) < HEADER.size:
            raise ActlineError(path, f"journal header needs {HEADER.size} bytes, the file has {size}")
        magic, version, _, h, w, n_meta = HEADER.unpack(head)
        if magic != MAGIC or version != VERSION:
            raise ActlineError(path, f"not a frame journal of version {VERSION} (magic {magic!r}, version {version})")
        if not (0 < h <= MAX_SIDE and 0 < w <= MAX_SIDE) or n_meta > MAX_META_BYTES:
            raise ActlineError(path, f"journal header says {h}x{w} frames and {n_meta} bytes of metadata: refused")
        try:
            meta = json.loads(fh.read(n_meta))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise ActlineError(path, f"journal metadata is not JSON ({type(exc).__name__})") from None
        if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
            raise ActlineError(path, "journal metadata names no recording")
        start = HEADER.size + n_meta
        dtype = record_dtype(h, w)
        n = max(0, size - start) // dtype.itemsize
        limits.check_values(path, (n, h, w))
        fh.seek(start)
        rec = np.fromfile(fh, dtype=dtype, count=n)
    n = len(rec)
    frames, ts = rec["frame"], rec["t"]
    bad = ~np.isfinite(frames.reshape(n, h * w)).all(axis=1)
    bad[1:] |= np.diff(ts) < 0
    keep = int(bad.argmax()) if bad.any() else n
    torn = max(0, size - start) - n * dtype.itemsize
    left = []
    if keep < n:
        left.append(f"{n - keep} record(s) from record {keep} on (not finite, or going back in time)")
    if torn:
        left.append(f"{torn} byte(s) of a record that was being written")
    return meta, np.ascontiguousarray(frames[:keep], dtype=np.float32), ts[:keep].astype(np.int64), "; ".join(left)


def convert_journal(journal: Path, target: Path, writer: JournalWriter | None = None) -> tuple[int, str]:
    """The journal's frames as ``target`` (.h5), then the journal deleted: (frames, what was left out)."""
    if writer is not None:
        writer.sync()
    meta, frames, ts, left = read_journal(journal)
    if len(frames):
        attrs = {"sensor": str(meta.get("sensor", ""))[:1024], "recorded_by": "actline stream --record"}
        write_recording_h5(target, frames, ts, target.stem, extra_attrs=attrs)
    journal.unlink()
    from actline.core.atomic import fsync_path

    fsync_path(journal.parent)
    return len(frames), left


def recover_journals(frames_dir: str | Path) -> list[str]:
    """Turn the journals a killed recorder left in ``frames_dir`` into ``.h5`` recordings; one line for each.

    A journal another live process holds is left alone; one that cannot be read is renamed
    ``<journal>.damaged`` (hidden, so no reader takes it).
    """
    frames_dir, said = Path(frames_dir), []
    for path in sorted(frames_dir.glob(f".*{JOURNAL}{NEW}")):  # a journal whose header was being written
        _with_lock(path, lambda p: p.unlink())
    for path in sorted(frames_dir.glob(f".*{JOURNAL}")):
        line = _with_lock(path, _recover_one)
        if line:
            log.warning("%s", line)
            said.append(line)
    return said


def _with_lock(path: Path, fn):
    """``fn(path)`` while holding the journal's lock; None (nothing done) if another process holds it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        if not lock(fd) or os.fstat(fd).st_ino != os.stat(path).st_ino:  # held, or replaced meanwhile
            return None
        return fn(path)
    except FileNotFoundError:
        return None
    finally:
        os.close(fd)


def _recover_one(journal: Path) -> str:
    name = journal.name[1:-len(JOURNAL)]
    target = journal.parent / f"{name}.h5"
    try:
        if not name or safe_file_name(name) != name:
            raise ActlineError(journal, "not a journal name this recorder writes")
        for tmp in journal.parent.glob(f".{name}.h5.*.tmp"):  # a conversion the crash interrupted
            tmp.unlink(missing_ok=True)
        if target.exists():  # converted just before the crash: the journal was all but deleted
            journal.unlink()
            return f"{journal}: already written as {target.name}; journal removed"
        n, left = convert_journal(journal, target)
    except (ActlineError, OSError, ValueError) as exc:
        aside = journal.with_name(journal.name + DAMAGED)
        os.replace(journal, aside)
        return f"{journal}: cannot be recovered, set aside as {aside.name}: {exc}"
    if not n:
        return f"{journal}: no complete frame, removed"
    return f"{journal}: recovered as {target.name} ({n} frames" + (f"; left out: {left})" if left else ")")
