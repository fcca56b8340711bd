"""What ``stream --record`` leaves and ``--empty-room`` reads, fed garbage: a frame journal and an NPZ recording
load, or fail with actline's own one-line error; recovering a mangled journal never raises and never leaves
a ``.h5`` that the reader refuses."""

import io
import os

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from .test_fuzz_readers import FUZZ, _mutate, _only_actline_errors


def _journal(path, n: int = 6) -> bytes:
    from actline.data.recordings.frame_journal import JournalWriter

    w = JournalWriter(path, (4, 5), {"name": "F_20251206T054640Z", "sensor": "F"})
    for i in range(n):
        w.append(1_765_000_000_000 + 100 * i, np.full((4, 5), 20.0 + i, np.float32))
    w.close()
    data = path.read_bytes()
    path.unlink()
    return data


@given(flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=8),
       cut=st.none() | st.integers(0, 800), tail=st.binary(max_size=200))
@FUZZ
def test_frame_journal(tmp_path_factory, flips, cut, tail):
    from actline.data.recordings.frame_journal import read_journal, recover_journals
    from actline.data.thermal_h5 import read_recording_h5

    d = tmp_path_factory.mktemp("journal")
    good = _journal(d / ".F_20251206T054640Z.journal")
    path = d / ".F_20251206T054640Z.journal"
    path.write_bytes(_mutate(good, flips, cut) + tail)
    _only_actline_errors(read_journal, path)
    lines = recover_journals(d)
    assert len(lines) == 1 and "\n" not in lines[0]
    left = sorted(os.listdir(d))
    assert left in (["F_20251206T054640Z.h5"], [".F_20251206T054640Z.journal.damaged"], []), left
    if left == ["F_20251206T054640Z.h5"]:
        rec = read_recording_h5(d / left[0])  # a recovered file always reads
        assert rec.n_frames >= 1 and np.isfinite(rec.frames).all()


@given(flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=8),
       cut=st.none() | st.integers(0, 3000))
@FUZZ
def test_npz_recording(tmp_path_factory, flips, cut):
    from actline.data.recordings.recording_npz import read_recording_npz

    buf = io.BytesIO()
    np.savez(buf, frames=np.full((3, 4, 5), 20.0, np.float32), timestamps=np.arange(3) / 10)
    path = tmp_path_factory.mktemp("npz") / "r.npz"
    path.write_bytes(_mutate(buf.getvalue(), flips, cut))
    _only_actline_errors(read_recording_npz, path)
