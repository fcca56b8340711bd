import warnings
from fractions import Fraction
from types import SimpleNamespace

import av
import numpy as np
import pytest

from actline.core.errors import ActlineError
from actline.data.video import (
    VideoSpec,
    _resize_crop,
    iter_chunks,
    iter_frames,
    probe,
    video_chunks,
    write_video,
)


def _coded(n, h=48, w=64):
    """Frames whose brightness codes their index (10 levels apart, robust to compression)."""
    return [np.full((h, w, 3), 10 * i % 250, np.uint8) for i in range(n)]


def _index(frame) -> int:
    return int(round(float(frame.mean()) / 10))


def test_uniform_resampling_by_presentation_time(tmp_path):
    path = write_video(tmp_path / "v.mp4", _coded(25), fps=25)
    frames = list(iter_frames(path, fps=8, size=32))
    assert [round(t, 4) for t, _ in frames] == [k / 8 for k in range(8)]  # 1 s at 8 fps
    # output instant k/8 shows the latest source frame at or before it: floor(k/8 * 25)
    assert [_index(f) for _, f in frames] == [int(k / 8 * 25) for k in range(8)]
    assert frames[0][1].shape == (32, 32, 3)


def test_odd_and_variable_frame_rates(tmp_path):
    path = write_video(tmp_path / "ntsc.mp4", _coded(24), fps=30000 / 1001)  # 29.97 fps
    assert probe(path).fps == pytest.approx(29.97, abs=0.01)
    assert len(list(iter_frames(path, fps=8, size=None))) == 7  # 24 / 29.97 s = 0.80 s -> instants 0..0.75
    # variable frame rate: frames at 0, 0.1, 0.5, 0.6 s (a gap), written with explicit timestamps
    vfr = tmp_path / "vfr.mkv"
    with av.open(str(vfr), "w") as out:
        s = out.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.codec_context.time_base = Fraction(1, 1000)
        for i, ms in enumerate([0, 100, 500, 600]):
            f = av.VideoFrame.from_ndarray(_coded(5)[i + 1], format="rgb24")
            f.pts, f.time_base = ms, Fraction(1, 1000)
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    got = [(round(t, 3), _index(f)) for t, f in iter_frames(vfr, fps=10, size=None)]
    # the gap repeats the frame shown at 0.1 s until the next one arrives at 0.5 s; the last is shown 0.1 s
    assert got == [(0.0, 1), (0.1, 2), (0.2, 2), (0.3, 2), (0.4, 2), (0.5, 3), (0.6, 4)]


def test_chunks_pad_the_last_and_short_videos(tmp_path):
    path = write_video(tmp_path / "v.mp4", _coded(30), fps=10)  # 3 s -> 24 frames at 8 fps
    chunks = list(video_chunks(path, VideoSpec(fps=8, size=16, chunk=16, stride=16)))
    assert [c.shape for _, _, c in chunks] == [(16, 16, 16, 3)] * 2
    assert chunks[1][0] == 2.0 and chunks[1][1] == pytest.approx(3.0)  # end marks real frames only
    assert np.array_equal(chunks[1][2][8], chunks[1][2][15])  # padded with the last real frame
    short = write_video(tmp_path / "s.mp4", _coded(5), fps=10)
    (only,) = list(video_chunks(short, VideoSpec(fps=8, size=16, chunk=16, stride=16)))
    assert only[2].shape[0] == 16 and only[1] == pytest.approx(0.5)
    overlapping = list(iter_chunks(((i / 8, np.full((2, 2, 3), i)) for i in range(10)), chunk=4, stride=2))
    assert [c[:, 0, 0, 0].tolist() for _, _, c in overlapping] == [[0, 1, 2, 3], [2, 3, 4, 5], [4, 5, 6, 7],
                                                                  [6, 7, 8, 9]]


def test_rotation_metadata_is_applied():
    img = np.zeros((4, 6, 3), np.uint8)
    img[0, 0] = 255  # top-left marker
    frame = SimpleNamespace(rotation=90, width=6, height=4, to_ndarray=lambda **kw: img)
    out = _resize_crop(frame, None)
    assert out.shape == (6, 4, 3) and out[5, 0, 0] == 255  # turned a quarter counter-clockwise


def test_bad_videos_give_clear_errors(tmp_path):
    with pytest.raises(ActlineError, match="video file not found"):
        list(iter_frames(tmp_path / "missing.mp4"))
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 10)
    with pytest.raises(ActlineError, match=str(junk)):
        list(iter_frames(junk))
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(ActlineError, match="empty.mp4"):
        list(iter_frames(empty))


def test_truncated_stream_is_read_up_to_the_break(tmp_path):
    rng = np.random.default_rng(0)
    path = write_video(tmp_path / "v.mkv", [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(40)],
                       fps=10)
    data = path.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 2])
    full = list(iter_frames(path, fps=10, size=None))
    with warnings.catch_warnings():  # FFmpeg may end a cut Matroska stream cleanly or with an error (warned)
        warnings.simplefilter("ignore")
        part = list(iter_frames(cut, fps=10, size=None))
    assert 0 < len(part) < len(full)


def test_write_video_is_atomic(tmp_path):
    with pytest.raises(ActlineError, match="no frames"):
        write_video(tmp_path / "none.mp4", [], fps=8)
    assert not list(tmp_path.iterdir())
