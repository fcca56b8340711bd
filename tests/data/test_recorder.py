"""Live recording: journals that survive a crash, .h5 files only when complete, rotation, the disk cap."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from actline.core.errors import ActlineError
from actline.data.formats import find_inputs, load_recording
from actline.data.recordings.frame_journal import JournalWriter, read_journal
from actline.data.recordings.recorder import RecordConfig, Recorder
from actline.data.thermal_h5 import read_recording_h5, read_thermal_dataset

T0 = 1_765_000_000.0  # a Unix time: 2025-12-06T05:46:40Z


def frames_of(n: int, shape=(6, 8), seed: int = 0) -> np.ndarray:
    return (20 + np.random.default_rng(seed).normal(0, 1, (n, *shape))).astype(np.float32)


def as_dataset(root: Path) -> None:
    """Annotations naming one keyframe of every recording under root/frames, so read_thermal_dataset takes it."""
    names = sorted(p.stem for p in (root / "frames").glob("*.h5"))
    ann = root / "annotations"
    ann.mkdir(exist_ok=True)
    (ann / "class_mapping.json").write_text(json.dumps({"classes": ["x"]}))
    (ann / "train.json").write_text(json.dumps({
        "images": [{"id": i, "sensor_id": n, "frame_idx": 0} for i, n in enumerate(names)],
        "annotations": [{"id": i, "image_id": i, "category_id": 0} for i in range(len(names))],
        "categories": [{"id": 0, "name": "x"}]}))


def test_frames_are_recorded_as_h5_files_that_rotate_and_read_back_equal(tmp_path):
    f1, f2 = frames_of(100), frames_of(100, seed=1)
    rec = Recorder(tmp_path, RecordConfig(minutes=0.05))  # 3 s of sensor time per file
    for i in range(100):  # 10 fps for 10 s; SL14_R9 on a Unix clock, S2 on a clock from 0
        assert rec.add("SL14_R9", T0 + i / 10, f1[i]) and rec.add("S2", i / 10, f2[i])
    assert len(rec.status()["open"]) == 2
    rec.close()
    assert rec.status()["files"] == 8 and rec.status()["frames"] == 200
    files = sorted((tmp_path / "frames").iterdir())
    assert all(p.suffix == ".h5" for p in files)  # nothing else left: no journal, no temporary file
    mine = [p for p in files if p.name.startswith("SL14_R9_")]
    assert [p.name for p in mine] == ["SL14_R9_20251206T054640Z.h5", "SL14_R9_20251206T054643Z.h5",
                                      "SL14_R9_20251206T054646Z.h5", "SL14_R9_20251206T054649Z.h5"]
    recs = [read_recording_h5(p) for p in mine]
    assert [r.n_frames for r in recs] == [30, 30, 30, 10] and {r.group for r in recs} == {"SL14"}
    np.testing.assert_array_equal(np.concatenate([r.frames for r in recs]), f1)
    ts = np.concatenate([r.timestamps for r in recs])
    np.testing.assert_array_equal(np.round(ts * 1000).astype(np.int64), np.round((T0 + np.arange(100) / 10) * 1000))
    theirs = sorted(p for p in files if p.name.startswith("S2_"))
    assert len(theirs) == 4 and theirs == sorted(theirs, key=lambda p: read_recording_h5(p).timestamps[0])
    np.testing.assert_array_equal(np.concatenate([read_recording_h5(p).frames for p in theirs]), f2)
    assert read_recording_h5(theirs[0]).meta["sensor"] == "S2"
    as_dataset(tmp_path)
    ds = read_thermal_dataset(tmp_path)
    assert len(ds.recordings) == 8 and {r.group for r in ds.recordings.values()} == {"SL14", "S2"}


def test_a_sensor_id_that_is_no_file_name_is_hashed_and_bad_frames_are_not_recorded(tmp_path):
    rec = Recorder(tmp_path)
    assert rec.add("../../etc/x y", T0, np.zeros((2, 2)))
    assert not rec.add("A", T0, np.full((2, 2), np.nan)) and not rec.add("A", float("inf"), np.zeros((2, 2)))
    rec.close()
    (name,) = [p.name for p in (tmp_path / "frames").iterdir()]
    assert name.startswith("s-") and name.endswith("_20251206T054640Z.h5") and rec.status()["not_recorded"] == 2


def _killed_journal(frames_dir: Path, frames: np.ndarray, name: str = "K1_20251206T054640Z") -> Path:
    """A journal as a killed recorder leaves it: frames written, never converted, the lock gone."""
    frames_dir.mkdir(parents=True, exist_ok=True)
    w = JournalWriter(frames_dir / f".{name}.journal", frames.shape[1:], {"name": name, "sensor": "K1"})
    for i, f in enumerate(frames):
        w.append(int(T0 * 1000) + 100 * i, f)
    w.close()
    return w.path


def test_a_killed_recorders_journal_is_recovered_up_to_its_last_complete_frame(tmp_path):
    frames = frames_of(25)
    path = _killed_journal(tmp_path / "frames", frames)
    with open(path, "ab") as fh:  # the process died in the middle of writing a frame
        fh.write(b"\x01" * 100)
    rec = Recorder(tmp_path)
    (line,) = rec.status()["recovered"]
    assert "recovered as K1_20251206T054640Z.h5 (25 frames" in line and "100 byte(s)" in line
    assert not path.exists()
    got = read_recording_h5(tmp_path / "frames" / "K1_20251206T054640Z.h5")
    np.testing.assert_array_equal(got.frames, frames)
    rec.close()


def test_frames_after_a_power_cut_zeroed_the_tail_are_left_out(tmp_path):
    frames = frames_of(12)
    frames[10:] = 0.0
    path = _killed_journal(tmp_path / "frames", frames[:10])
    with open(path, "ab") as fh:  # zeros: time 0 goes back
        fh.write(b"\x00" * 2 * (8 + frames[0].nbytes))
    meta, got, ts, left = read_journal(path)
    assert meta["sensor"] == "K1" and len(got) == 10 and "2 record(s) from record 10" in left
    np.testing.assert_array_equal(got, frames[:10])


def test_an_unreadable_journal_is_set_aside_in_one_line_and_never_reaches_a_reader(tmp_path):
    d = tmp_path / "frames"
    good = _killed_journal(d, frames_of(5), "G_20251206T054640Z")
    bad = d / ".B_20251206T054640Z.journal"
    bad.write_bytes(b"ACTJ\x07junk")
    rec = Recorder(tmp_path)
    lines = rec.status()["recovered"]
    assert any(str(bad) in x and "set aside as .B_20251206T054640Z.journal.damaged" in x and "\n" not in x for x in lines)
    assert not good.exists() and (d / ".B_20251206T054640Z.journal.damaged").exists()
    assert [p.name for p in find_inputs([d], "thermal")] == ["G_20251206T054640Z.h5"]  # readers see the .h5 only
    rec.close()


def test_a_journal_another_process_holds_is_left_alone(tmp_path):
    path = _killed_journal(tmp_path / "frames", frames_of(3))
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDONLY); "
                               "fcntl.flock(fd, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)", str(path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        Recorder(tmp_path).close()
        assert path.exists() and not list((tmp_path / "frames").glob("*.h5"))
    finally:
        holder.kill()
        holder.wait()
    Recorder(tmp_path).close()  # the holder is gone: now it is recovered
    assert not path.exists() and len(list((tmp_path / "frames").glob("*.h5"))) == 1


def test_the_disk_cap_stops_recording_and_says_why(tmp_path, caplog):
    rec = Recorder(tmp_path, RecordConfig(max_bytes=40_000))
    f = frames_of(1, (16, 16))[0]
    took = [rec.add("A", T0 + i / 10, f) for i in range(100)]
    n = took.index(False)
    assert 30 < n < 40 and not any(took[n:])  # 1 KiB a frame: stopped before 40 kB, for good
    st = rec.status()
    assert not st["recording"] and "the cap of 40 kB (--record-max-gb) is reached" in st["stopped"]
    assert st["open"] == [] and st["not_recorded"] == 100 - n
    rec.close()
    assert [r.message for r in caplog.records if "recording stopped" in r.message] == [
        f"recording stopped: {st['stopped']}; the stream goes on"]
    (p,) = (tmp_path / "frames").glob("*.h5")
    assert read_recording_h5(p).n_frames == n and os.path.getsize(p) < 40_000


def test_a_full_disk_stops_recording_at_start(tmp_path):
    rec = Recorder(tmp_path, RecordConfig(min_free_bytes=1 << 62))
    assert "free (recording keeps" in rec.status()["stopped"] and not rec.add("A", T0, np.zeros((2, 2)))
    rec.close()


def test_bad_settings_are_refused_in_one_line(tmp_path):
    for cfg, opt in [(RecordConfig(minutes=0), "--record-minutes"), (RecordConfig(flush_s=-1), "--record-flush-s"),
                     (RecordConfig(max_bytes=0), "--record-max-gb")]:
        with pytest.raises(ActlineError, match=opt):
            Recorder(tmp_path, cfg)


def test_a_sensor_quiet_for_a_rotation_period_has_its_file_closed(tmp_path):
    now = [0.0]
    rec = Recorder(tmp_path, RecordConfig(minutes=1.0, flush_s=1.0), clock=lambda: now[0])
    rec.add("A", T0, np.zeros((2, 2)))
    now[0] = 59.0
    rec.tick()
    assert rec.status()["open"]
    now[0] = 61.0
    rec.tick()
    assert not rec.status()["open"]
    rec.close()
    assert len(list((tmp_path / "frames").glob("A_*.h5"))) == 1


def test_npz_recordings_are_read_and_bad_ones_refused(tmp_path):
    frames, ts = frames_of(4), np.arange(4) / 10
    np.savez(tmp_path / "good.npz", frames=frames, timestamps=ts)
    r = load_recording(tmp_path / "good.npz")
    np.testing.assert_array_equal(r.frames, frames) and np.testing.assert_array_equal(r.timestamps, ts)
    np.savez(tmp_path / "obj.npz", frames=np.array([None] * 4, dtype=object), timestamps=ts)
    np.savez(tmp_path / "flat.npz", frames=frames[0], timestamps=ts)
    np.savez(tmp_path / "nots.npz", frames=frames)
    np.savez(tmp_path / "back.npz", frames=frames, timestamps=ts[::-1])
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04junk")
    for name, why in [("obj", "must be numeric"), ("flat", "shape"), ("nots", "missing array.*timestamps"),
                      ("back", "go backwards"), ("junk", "not a readable NPZ")]:
        with pytest.raises(ActlineError, match=why) as exc:
            load_recording(tmp_path / f"{name}.npz")
        assert f"{name}.npz" in str(exc.value) and "\n" not in str(exc.value)
    from actline.data.limits import ReadLimits
    from actline.data.recordings.recording_npz import read_recording_npz

    with pytest.raises(ActlineError, match="limit"):
        read_recording_npz(tmp_path / "good.npz", ReadLimits(max_frame_values=10))


def test_flushes_reach_the_disk_on_time(tmp_path):
    now = [0.0]
    rec = Recorder(tmp_path, RecordConfig(flush_s=5.0), clock=lambda: now[0])
    synced = []
    for i in range(30):
        now[0] = i * 0.5
        rec.add("A", T0 + i / 2, np.zeros((2, 2)))
        synced.append(rec.open["A"].synced)
    assert synced[9] == 0 and synced[10] == 11 and synced[20] == 21  # an fsync every 5 s of wall clock
    rec.close()


def test_a_file_that_cannot_be_written_stops_recording_and_its_frames_wait_in_the_journal(tmp_path, monkeypatch):
    import actline.data.recordings.frame_journal as fj

    def full(*a, **k):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(fj, "write_recording_h5", full)
        rec = Recorder(tmp_path, RecordConfig(minutes=0.05))
        for i in range(60):  # two files of 30 frames, neither written
            rec.add("A", T0 + i / 10, np.full((2, 2), float(i)))
        rec.close()
    assert "cannot write A_20251206T054640Z.h5 ([Errno 28] No space left on device)" in rec.status()["stopped"]
    assert not rec.add("A", T0 + 7, np.zeros((2, 2))) and not list((tmp_path / "frames").glob("*.h5"))
    again = Recorder(tmp_path)  # room again: the next start writes what waited
    again.close()
    recs = [read_recording_h5(p) for p in sorted((tmp_path / "frames").glob("*.h5"))]
    kept = np.concatenate([r.frames[:, 0, 0] for r in recs])
    # the first file's conversion fails in the background while frames still arrive: recording stops when
    # the failure is seen, after the first file's 30 frames and before the end; nothing taken is lost
    assert 30 <= len(kept) <= 60
    np.testing.assert_array_equal(kept, np.arange(len(kept)))
    assert len(again.status()["recovered"]) == len(recs) >= 1


def test_a_file_rotates_before_it_would_pass_the_read_limits_and_each_sensor_is_tallied(tmp_path):
    from actline.data.limits import ReadLimits

    limits = ReadLimits(max_frame_values=10 * 48)  # ten 6x8 frames a file, at most
    rec = Recorder(tmp_path, limits=limits)
    a, b = frames_of(25), frames_of(3, (4, 4), seed=1)
    for i in range(25):
        assert rec.add("A", T0 + i / 10, a[i])
    for i in range(3):
        assert rec.add("B", T0 + i / 10, b[i])
    open_b = rec.status()["sensors"]["B"]
    assert open_b["frames"] == 3 and open_b["files"] == 0 and open_b["bytes"] > 3 * 4 * 16  # the journal so far
    rec.close()
    files = sorted((tmp_path / "frames").glob("A_*.h5"))
    got = [read_recording_h5(p, limits=limits) for p in files]  # every file reads back under the limits it obeyed
    assert [r.n_frames for r in got] == [10, 10, 5]
    np.testing.assert_array_equal(np.concatenate([r.frames for r in got]), a)
    st = rec.status()["sensors"]
    assert st["A"] == {"frames": 25, "files": 3, "bytes": sum(p.stat().st_size for p in files)}
    assert st["B"]["files"] == 1 and st["B"]["bytes"] == next((tmp_path / "frames").glob("B_*.h5")).stat().st_size
