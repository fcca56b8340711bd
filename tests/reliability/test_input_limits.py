"""Hostile files: decompression bombs, HDF5 shapes that declare terabytes, HDF5 files that point at other
files, and videos whose timestamps run far ahead. Each is refused (or cut) before the cost is paid."""

import gzip
import time
import tracemalloc
import warnings
from fractions import Fraction

import h5py
import numpy as np
import pytest

from actline.core.errors import ActlineError
from actline.data.limits import MB, DeadlineExceeded, ReadLimits, read_limits


def _nagoya_text(n: int) -> bytes:
    head = "2017/02/03 17:28:07\n" + ",".join(["Time (sec)", "PTAT"] + [f"P{i:03d}" for i in range(256)]) + "\n"
    row = ",".join(["0.0", "20.0"] + ["20.5"] * 256) + "\n"
    return (head + row * n).encode()


# ------------------------------------------------------------------ .csv.gz
def test_csv_gz_bomb_is_refused_without_decompressing_it_whole(tmp_path):
    from actline.data.nagoya import read_nagoya_csv

    path = tmp_path / "bomb.csv.gz"
    path.write_bytes(gzip.compress(_nagoya_text(60_000), compresslevel=9))  # 80 MB of valid rows in ~300 KB
    assert path.stat().st_size < 1 * MB
    tracemalloc.start()
    with pytest.raises(ActlineError, match="decompresses to more than"):
        read_nagoya_csv(path, ReadLimits(max_decompressed_bytes=4 * MB))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 16 * MB  # the cap, plus parser buffers: never the whole 80 MB


def test_csv_limits_come_from_the_context_and_plain_csv_is_capped_too(tmp_path):
    from actline.data.nagoya import read_nagoya_csv

    gz, plain = tmp_path / "r.csv.gz", tmp_path / "r.csv"
    gz.write_bytes(gzip.compress(_nagoya_text(400)))
    plain.write_bytes(_nagoya_text(400))
    frames, ts, _ = read_nagoya_csv(gz)  # the defaults admit it
    assert frames.shape == (400, 16, 16) and ts.shape == (400,)
    with read_limits(ReadLimits(max_decompressed_bytes=100_000)):
        for p in (gz, plain):
            with pytest.raises(ActlineError, match="more than"):
                read_nagoya_csv(p)
    with pytest.raises(ActlineError, match="values, more than the limit"):
        read_nagoya_csv(plain, ReadLimits(max_frame_values=256 * 100))


def test_csv_reading_stops_at_the_deadline(tmp_path):
    from actline.data.nagoya import read_nagoya_csv

    path = tmp_path / "r.csv"
    path.write_bytes(_nagoya_text(50))
    with pytest.raises(DeadlineExceeded, match="time limit"):
        read_nagoya_csv(path, ReadLimits(deadline=time.monotonic() - 1))


def test_csv_reading_holds_about_twice_the_frames_not_a_python_object_per_row(tmp_path):
    """Rows used to be kept as one float64 array each and stacked: about five times the frames' size."""
    from actline.data.nagoya import read_nagoya_csv

    path = tmp_path / "r.csv"
    path.write_bytes(_nagoya_text(8000))
    tracemalloc.start()
    frames, _, _ = read_nagoya_csv(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert frames.dtype == np.float32 and frames.shape == (8000, 16, 16)
    assert peak < 3 * frames.nbytes, peak / frames.nbytes


def test_csv_values_beyond_float32_are_refused(tmp_path):
    """1e300 is finite as read (float64) and inf once stored as float32 frames: it must not reach a model."""
    from actline.data.nagoya import read_nagoya_csv

    path = tmp_path / "r.csv"
    path.write_bytes(_nagoya_text(20).replace(b",20.5\n", b",1e300\n", 1))
    with pytest.raises(ActlineError, match="NaN or inf"):
        read_nagoya_csv(path)


# ------------------------------------------------------------------ HDF5
def _h5(path, frames_shape=(20, 4, 6), libver=None, **frames_kw):
    n = frames_shape[0]
    with h5py.File(path, "w", libver=libver) as fh:
        fh.create_dataset("frames", shape=frames_shape, dtype="f4", **frames_kw)
        fh.create_dataset("timestamps", data=np.arange(n, dtype=np.int64) * 100)
    return path


def test_h5_declaring_a_huge_shape_is_refused_before_allocating(tmp_path):
    from actline.data.thermal_h5 import read_recording_h5

    # 10^12 float32 values declared, no data written: a few KB on disk
    path = _h5(tmp_path / "bomb.h5", (10_000, 10_000, 10_000), chunks=(1, 100, 100))
    with h5py.File(path, "a") as fh:
        del fh["timestamps"]
        fh.create_dataset("timestamps", shape=(10_000,), dtype="i8")
    assert path.stat().st_size < 100_000
    tracemalloc.start()
    with pytest.raises(ActlineError, match="more than the limit"):
        read_recording_h5(path)
    assert tracemalloc.get_traced_memory()[1] < 8 * MB
    tracemalloc.stop()


def test_h5_limit_from_the_context_and_timestamps_shape_checked_first(tmp_path):
    from actline.data.thermal_h5 import read_recording_h5

    path = _h5(tmp_path / "ok.h5")
    assert read_recording_h5(path).frames.shape == (20, 4, 6)
    with read_limits(ReadLimits(max_frame_values=100)), pytest.raises(ActlineError, match="480 values"):
        read_recording_h5(path)
    with h5py.File(path, "a") as fh:  # timestamps declaring 10^10 entries: refused by shape, not read
        del fh["timestamps"]
        fh.create_dataset("timestamps", shape=(10**10,), dtype="i8", chunks=(1000,))
    with pytest.raises(ActlineError, match="'timestamps' has shape"):
        read_recording_h5(path)


def test_h5_external_storage_is_refused(tmp_path):
    from actline.data.thermal_h5 import read_recording_h5

    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.full(20 * 4 * 6, 36.6, np.float32).tobytes())
    path = _h5(tmp_path / "ext.h5", external=[(str(secret), 0, secret.stat().st_size)])
    with h5py.File(path, "r") as fh:
        assert fh["frames"][0, 0, 0] == np.float32(36.6)  # h5py itself would read the other file
    with pytest.raises(ActlineError, match="external"):
        read_recording_h5(path)


def test_h5_external_link_is_refused(tmp_path):
    from actline.data.thermal_h5 import read_recording_h5

    other = _h5(tmp_path / "other.h5")
    path = tmp_path / "link.h5"
    with h5py.File(path, "w") as fh:
        fh["frames"] = h5py.ExternalLink(str(other), "/frames")
        fh.create_dataset("timestamps", data=np.arange(20, dtype=np.int64) * 100)
    with pytest.raises(ActlineError, match="link"):
        read_recording_h5(path)


def test_h5_virtual_dataset_is_refused(tmp_path):
    from actline.data.thermal_h5 import read_recording_h5

    other = _h5(tmp_path / "other.h5")
    layout = h5py.VirtualLayout(shape=(20, 4, 6), dtype="f4")
    layout[:] = h5py.VirtualSource(str(other), "frames", shape=(20, 4, 6))
    path = tmp_path / "vds.h5"
    with h5py.File(path, "w") as fh:
        fh.create_virtual_dataset("frames", layout)
        fh.create_dataset("timestamps", data=np.arange(20, dtype=np.int64) * 100)
    with pytest.raises(ActlineError, match="virtual"):
        read_recording_h5(path)


def test_h5_soft_link_and_group_are_refused(tmp_path):
    from actline.data.thermal_h5 import read_recording_h5

    path = _h5(tmp_path / "soft.h5")
    with h5py.File(path, "a") as fh:
        fh["frames2"] = fh["frames"][()]
        del fh["frames"]
        fh["frames"] = h5py.SoftLink("/frames2")
    with pytest.raises(ActlineError, match="link"):
        read_recording_h5(path)
    with h5py.File(path, "a") as fh:
        del fh["frames"]
        fh.create_group("frames")
    with pytest.raises(ActlineError, match="not a dataset"):
        read_recording_h5(path)


def test_h5_huge_attribute_is_refused(tmp_path):
    from actline.data.thermal_h5 import read_recording_h5

    path = _h5(tmp_path / "attr.h5", libver="latest")
    with h5py.File(path, "a") as fh:
        fh.attrs["notes"] = np.zeros(1 << 20, np.float64)  # 8 MB in one attribute (dense storage)
    with pytest.raises(ActlineError, match="attribute"):
        read_recording_h5(path)


# ------------------------------------------------------------------ video
def _jumping_video(path, jump_s: float, n: int = 12, fps: int = 8):
    """An MKV whose last frame's timestamp is ``jump_s`` seconds ahead of the others."""
    import av

    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = 32, 32, "yuv420p"
        s.time_base = Fraction(1, 1000)
        for i in range(n):
            f = av.VideoFrame.from_ndarray(np.full((32, 32, 3), i * 20 % 256, np.uint8), format="rgb24")
            f.pts = round((i / fps if i < n - 1 else jump_s) * 1000)
            f.time_base = Fraction(1, 1000)
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    return path


def test_runaway_timestamps_are_cut_at_the_stream_real_length(tmp_path):
    from actline.data.video import iter_frames

    path = _jumping_video(tmp_path / "jump.mkv", jump_s=20_000.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        n = sum(1 for _ in iter_frames(path, fps=8, size=16))
    # 12 frames at 8 fps are 1.5 s; before, the last frame was repeated for 20,000 s (160,000 frames)
    assert 11 <= n <= 8 * (4 * 1.5 + 30)
    assert any("real length" in str(w.message) for w in caught)


def test_ordinary_videos_are_not_cut(tmp_path):
    from actline.data.video import iter_frames, write_video

    path = write_video(tmp_path / "v.mp4", [np.full((32, 32, 3), i, np.uint8) for i in range(40)], fps=10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        times = [t for t, _ in iter_frames(path, fps=5, size=16)]
    assert len(times) == 20 and times[-1] == pytest.approx(3.8)


def _raw_video(path, width: int, height: int, n: int = 2):
    """A small file of uncompressed frames: the frame size is whatever the header says."""
    import av

    with av.open(str(path), "w") as out:
        s = out.add_stream("rawvideo", rate=8)
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        for _ in range(n):
            for p in s.encode(av.VideoFrame.from_ndarray(np.zeros((height, width, 3), np.uint8), format="rgb24")):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    return path


def test_video_frames_of_absurd_shape_or_size_are_refused_before_decoding(tmp_path):
    """A 50 KB file of 8000x2 frames used to cost ~300 MB (the short side resized to 112: an 448000x112 image);
    at 30000x2, over a GB."""
    from actline.data.video import iter_frames

    thin = _raw_video(tmp_path / "thin.mkv", 8000, 2)
    assert thin.stat().st_size < 100_000
    tracemalloc.start()
    with pytest.raises(ActlineError, match="aspect ratio beyond 8:1"):
        sum(1 for _ in iter_frames(thin, fps=8, size=112))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 * MB
    big = _raw_video(tmp_path / "big.mkv", 640, 480)
    with pytest.raises(ActlineError, match="640x480 pixels, more than the limit of 100,000"):
        next(iter(iter_frames(big, fps=8, size=112, limits=ReadLimits(max_video_pixels=100_000))))
    assert sum(1 for _ in iter_frames(big, fps=8, size=112)) == 2  # the defaults admit it


def test_video_duration_cap_and_deadline(tmp_path):
    from actline.data.video import iter_frames, write_video

    path = write_video(tmp_path / "v.mp4", [np.full((32, 32, 3), i, np.uint8) for i in range(40)], fps=10)
    with pytest.raises(ActlineError, match="longer than the limit of 2 s"):
        sum(1 for _ in iter_frames(path, fps=5, size=16, limits=ReadLimits(max_video_s=2)))
    with read_limits(ReadLimits(deadline=time.monotonic() - 1)):
        frames = iter_frames(path, fps=5, size=16)  # limits are fixed when the iterator is made
    with pytest.raises(DeadlineExceeded):
        next(iter(frames))


def test_one_endless_csv_line_is_refused_early(tmp_path):
    from actline.data.nagoya import read_nagoya_csv

    path = tmp_path / "line.csv.gz"
    path.write_bytes(gzip.compress(b"12," * (10 * MB), compresslevel=9))  # one 30 MB line of fields
    tracemalloc.start()
    with pytest.raises(ActlineError, match="line 1 is longer than"):
        read_nagoya_csv(path)  # the default limits admit 30 MB of text, but not as one line
    assert tracemalloc.get_traced_memory()[1] < 8 * MB
    tracemalloc.stop()
