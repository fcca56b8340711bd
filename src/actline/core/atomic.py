"""Atomic writes: a temporary file (or directory) beside the target, then a rename.

A crash, or a power cut, leaves either the old file or the new one, never a torn one: the new
content (every file and directory inside a new directory too) is flushed to disk with ``fsync``
before the rename, and the parent directory after it, so the rename itself is on disk when the
write returns.

A directory is swapped in two renames (target -> ``.target.old``, temporary -> target). Writers
hold an exclusive ``flock`` on the parent directory for the two renames, and the repair of an
interrupted swap (:func:`recover_dir`, called by readers) takes the same lock, so a reader never
"repairs" a swap that a live writer is in the middle of. Locking the directory itself leaves no
lock file behind and needs no write permission.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # not POSIX: no advisory locks; swaps are then safe only with one process at a time
    fcntl = None


def fsync_path(path: str | os.PathLike) -> None:
    """Flush a file's data, or a directory's entries, to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    """Every file, then every directory (deepest first, ``root`` last) under ``root``."""
    dirs = []
    for here, _, files in os.walk(root):
        dirs.append(here)
        for name in files:
            fsync_path(os.path.join(here, name))
    for here in reversed(dirs):
        fsync_path(here)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str = "", exclusive: bool = False) -> Iterator[Path]:
    """Yield a temporary path in the target's directory; rename it onto ``target`` on success.

    ``exclusive``: never replace an existing ``target`` (``FileExistsError``, the temporary file removed):
    the file is hard-linked to its name, which fails if the name exists, atomically.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix + ".tmp", dir=target.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; the result should read like any other file
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        fsync_path(tmp_path)
        if exclusive:
            os.link(tmp_path, target)  # no rename-without-replace in POSIX; a link refuses an existing name
        else:
            os.replace(tmp_path, target)
        fsync_path(target.parent)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text(target: str | os.PathLike, text: str) -> Path:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)


def write_json(target: str | os.PathLike, obj: Any) -> Path:
    return write_text(target, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


@contextlib.contextmanager
def _swap_lock(target: Path) -> Iterator[None]:
    """Hold the exclusive lock on directory swaps in ``target``'s parent."""
    with directory_lock(target.parent):
        yield


@contextlib.contextmanager
def directory_lock(directory: str | os.PathLike) -> Iterator[None]:
    """An exclusive ``flock`` on a directory, for read-modify-write of the files in it (no lock file)."""
    if fcntl is None:
        yield
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _old(target: Path) -> Path:
    return target.with_name(f".{target.name}.old")


def _finish_swap(target: Path) -> None:
    """With the lock held: a crash between the two renames left only ``.target.old``; put it back."""
    old = _old(target)
    if not target.exists() and old.is_dir():
        os.replace(old, target)
        fsync_path(target.parent)


def recover_dir(target: str | os.PathLike) -> Path:
    """Finish an interrupted directory swap: a crash between its two renames leaves only the old copy.

    Safe while a writer is mid-swap: the repair waits for the writer's lock, then finds nothing to do.
    """
    target = Path(target)
    if not target.exists() and _old(target).is_dir():  # only then is a lock (and a write) needed
        with _swap_lock(target):
            _finish_swap(target)
    return target


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary directory; it replaces ``target`` only when the block succeeds.

    The swap is two renames (target -> .target.old, temporary -> target) under a lock on the parent directory; a
    crash between them leaves the old directory at .target.old, which ``recover_dir`` (called by
    readers and by the next write) puts back. So a reader finds the old directory or the new one,
    never a mix.
    """
    target = recover_dir(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes 0700
    try:
        yield tmp
        _fsync_tree(tmp)
        old = _old(target)
        with _swap_lock(target):
            _finish_swap(target)
            shutil.rmtree(old, ignore_errors=True)  # left by a swap that crashed after its second rename
            if target.exists() and not overwrite:
                raise FileExistsError(target)
            if target.exists():
                os.replace(target, old)
            os.replace(tmp, target)
            fsync_path(target.parent)
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
