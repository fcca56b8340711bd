"""Atomic writes survive a power cut (every file and directory entry reaches the disk before and after the
rename), and repairing an interrupted directory swap is safe while a writer is mid-swap."""

import os
import threading
import time
from pathlib import Path

import pytest

from actline.core.atomic import atomic_dir, atomic_path, recover_dir, write_json


@pytest.fixture
def disk_events(monkeypatch):
    """Record every fsync (by the path its descriptor names) and every rename, in order."""
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src, dst):
        real_replace(src, dst)
        events.append(("replace", str(src), str(dst)))

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return events


def _index(events, event) -> int:
    assert event in events, (event, events)
    return events.index(event)


def test_atomic_path_syncs_the_file_before_and_the_directory_after_the_rename(tmp_path, disk_events):
    write_json(tmp_path / "a.json", {"x": 1})
    (_, src, dst), = [e for e in disk_events if e[0] == "replace"]
    rename = disk_events.index(("replace", src, dst))
    assert _index(disk_events, ("fsync", src)) < rename
    assert rename < _index(disk_events, ("fsync", str(tmp_path)))


@pytest.mark.parametrize("existing", [False, True])
def test_atomic_dir_syncs_every_file_and_directory_then_the_parent(tmp_path, disk_events, existing):
    target = tmp_path / "model"
    if existing:
        with atomic_dir(target) as tmp:
            (tmp / "old.txt").write_text("old")
        disk_events.clear()
    with atomic_dir(target, overwrite=True) as tmp:
        (tmp / "weights.bin").write_bytes(b"\x00" * 1000)  # written directly, as safetensors does
        (tmp / "sub").mkdir()
        (tmp / "sub" / "stage.bin").write_bytes(b"\x01" * 10)
        write_json(tmp / "config.json", {"k": 1})
    swap = _index(disk_events, ("replace", str(tmp), str(target)))
    for rel in ("weights.bin", "sub/stage.bin", "config.json", "sub", ""):
        assert _index(disk_events, ("fsync", str(Path(tmp, rel)).rstrip("/"))) < swap, rel
    assert swap < len(disk_events) - 1 - disk_events[::-1].index(("fsync", str(tmp_path)))
    assert sorted(p.name for p in target.iterdir()) == ["config.json", "sub", "weights.bin"]
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_checkpoints_inherit_the_syncs(tmp_path, disk_events):
    import torch
    from torch import nn

    from actline.train.engine import EngineConfig, fit

    x, y = torch.randn(8, 2), torch.randint(0, 2, (8,))
    fit(nn.Linear(2, 2), lambda rng, gen: [(x, y)], 1, lambda m, a, b: nn.functional.cross_entropy(m(a), b),
        EngineConfig(epochs=1, warmup_epochs=0, device="cpu", amp=False), seed=0, checkpoint=tmp_path / "ckpt")
    swap = [e for e in disk_events if e[0] == "replace" and e[2] == str(tmp_path / "ckpt")][-1]
    for name in ("state.safetensors", "state.json"):
        assert _index(disk_events, ("fsync", f"{swap[1]}/{name}")) < disk_events.index(swap)
    assert disk_events.index(swap) < len(disk_events) - 1 - disk_events[::-1].index(("fsync", str(tmp_path)))


def test_atomic_path_failure_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "x.bin") as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("crash")
    assert not list(tmp_path.iterdir())


def test_recovery_finishes_an_interrupted_swap(tmp_path):
    target, old = tmp_path / "model", tmp_path / ".model.old"
    old.mkdir()
    (old / "config.json").write_text("{}")
    assert recover_dir(target) == target and (target / "config.json").is_file() and not old.exists()


def test_recovery_by_a_reader_does_not_break_a_writer_mid_swap(tmp_path, monkeypatch):
    """A reader repairing 'an interrupted swap' while a writer sits between its two renames used to move the
    old directory back under the writer, whose second rename then failed (directory not empty)."""
    target = tmp_path / "model"
    with atomic_dir(target) as tmp:
        (tmp / "v.txt").write_text("0")
    real_replace = os.replace

    def slow_replace(src, dst):  # widen the window between the writer's two renames
        real_replace(src, dst)
        if str(dst).endswith(".model.old"):
            time.sleep(0.02)

    monkeypatch.setattr(os, "replace", slow_replace)
    errors, done = [], threading.Event()

    def writer():
        try:
            for i in range(1, 30):
                with atomic_dir(target, overwrite=True) as tmp:
                    (tmp / "v.txt").write_text(str(i))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            done.set()

    def reader():
        while not done.is_set():
            recover_dir(target)

    threads = [threading.Thread(target=writer), threading.Thread(target=reader), threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert (target / "v.txt").read_text() == "29" and not (tmp_path / ".model.old").exists()


def test_swaps_leave_no_lock_or_temporary_files(tmp_path):
    for _ in range(2):
        with atomic_dir(tmp_path / "model", overwrite=True) as tmp:
            (tmp / "a").write_text("a")
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
