"""Video in: PyAV decoding, resampled by presentation time, resized, centre-cropped, cut into chunks.

Decoding streams (one frame in memory at a time, so an hour-long file costs what a second does):
each output instant ``k / fps`` takes the latest decoded frame whose presentation time is at or
before it, so variable frame rates and odd rates (29.97, 12.5) give evenly spaced frames. The
display matrix (phone videos shot upright) is applied. A file that breaks off mid-stream is read
up to the break with a warning; a file with no decodable frame is an error naming the file.
"""

from __future__ import annotations

import queue
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import av
import numpy as np

from actline.core.errors import ActlineError
from actline.data.limits import ReadLimits, current_limits

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")


@dataclass(frozen=True)
class VideoSpec:
    """How a video becomes model input: the parameters that change the features."""

    fps: float = 8.0
    size: int = 112  # short side resized to this, then a size x size centre crop
    chunk: int = 16  # frames per chunk
    stride: int = 16  # frames between chunk starts (== chunk: non-overlapping)

    def as_dict(self) -> dict:
        return {"fps": self.fps, "size": self.size, "chunk": self.chunk, "stride": self.stride}


@dataclass
class VideoInfo:
    path: Path
    width: int
    height: int
    fps: float
    duration_s: float
    n_frames: int
    codec: str


def _open(path: Path):
    if not path.is_file():
        raise ActlineError(path, "video file not found")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise ActlineError(path, f"cannot open as a video ({type(exc).__name__}: {exc})") from None
    if not container.streams.video:
        container.close()
        raise ActlineError(path, "no video stream in the file")
    return container


def probe(path: str | Path) -> VideoInfo:
    path = Path(path)
    with _open(path) as c:
        s = c.streams.video[0]
        fps = float(s.average_rate or s.guessed_rate or 0.0)
        dur = float(s.duration * s.time_base) if s.duration and s.time_base else (c.duration or 0) / 1e6
        return VideoInfo(path, s.codec_context.width, s.codec_context.height, fps, dur, int(s.frames or 0),
                         s.codec_context.name)


def _resize_crop(frame: av.VideoFrame, size: int | None) -> np.ndarray:
    """RGB uint8 [H, W, 3], upright, short side ``size`` then centre-cropped (swscale does the resize)."""
    rot = getattr(frame, "rotation", 0) or 0
    w, h = frame.width, frame.height
    if rot % 180:  # the stored picture is sideways: its short side after rotation is the other one
        w, h = h, w
    if size:
        scale = size / min(w, h)
        nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
        if rot % 180:
            nw, nh = nh, nw
        img = frame.to_ndarray(format="rgb24", width=nw, height=nh)
    else:
        img = frame.to_ndarray(format="rgb24")
    if rot:
        img = np.rot90(img, k=int(round(rot / 90)) % 4)  # rotation is counter-clockwise in degrees
    if size:
        y0, x0 = (img.shape[0] - size) // 2, (img.shape[1] - size) // 2
        img = img[y0:y0 + size, x0:x0 + size]
    return np.ascontiguousarray(img)


RUNAWAY_FACTOR, RUNAWAY_SLACK_S = 4.0, 30.0  # how far timestamps may run ahead of the frames decoded


def _nominal_rate(stream) -> float:
    """The stream's frame rate as declared (the larger of FFmpeg's two estimates), 1 fps if unknown."""
    rates = [float(r) for r in (stream.average_rate, stream.guessed_rate) if r]
    rates = [r for r in rates if 0 < r <= 1000]
    return max(rates) if rates else 1.0


def iter_frames(path: str | Path, fps: float | None = 8.0, size: int | None = 112,
                limits: ReadLimits | None = None) -> Iterator[tuple[float, np.ndarray]]:
    """(time in s, RGB uint8 frame) at a uniform ``fps`` by presentation time (``fps=None``: every frame).

    The output never runs past the stream's real length: frame ``k`` may not be stamped later than
    ``RUNAWAY_FACTOR * (k + 1) / rate + RUNAWAY_SLACK_S`` s (``rate`` the declared frame rate), so a
    file whose timestamps jump far ahead is cut there with a warning instead of repeating its last
    frame up to the jump. ``limits`` (taken from the context when this is called, not when iterated,
    so they hold in a prefetch thread too) cap the seconds decoded and set a deadline.
    """
    return _frames(Path(path), fps, size, current_limits(limits))


def _frames(path: Path, fps: float | None, size: int | None, limits: ReadLimits):
    container = _open(path)
    n_out = 0
    try:
        stream = container.streams.video[0]
        _check_size(path, stream.codec_context.width, stream.codec_context.height, limits)  # before decoding
        stream.thread_type = "AUTO"  # frame-level threads inside FFmpeg
        rate = _nominal_rate(stream)
        t0, held, held_img = None, None, None  # held: the latest decoded frame and its time
        gap = 1.0 / (fps or 25.0)  # the input's latest frame interval: how long the last frame is shown

        def image():  # convert the held frame once, and only if some output instant uses it
            nonlocal held_img
            if held_img is None:
                held_img = _resize_crop(held[1], size)
            return held_img

        try:
            for k, frame in enumerate(container.decode(stream)):
                t = float(frame.pts * frame.time_base) if frame.pts is not None and frame.time_base else \
                    (held[0] + 1.0 / (fps or 25.0) if held else 0.0)
                t0 = t if t0 is None else t0
                t -= t0
                if not _within(path, t, k, rate, limits):
                    break
                _check_size(path, frame.width, frame.height, limits)  # the size may change mid-stream
                if fps is None:
                    yield t, _resize_crop(frame, size)
                    n_out += 1
                    continue
                while held is not None and n_out / fps < t - 1e-9:  # instants before this frame show the held one
                    yield n_out / fps, image()
                    n_out += 1
                if held is not None and t > held[0]:
                    gap = t - held[0]
                held, held_img = (t, frame), None
        except (av.InvalidDataError, av.EOFError, av.FFmpegError) as exc:
            if held is None and n_out == 0:
                raise ActlineError(path, f"no decodable frame ({type(exc).__name__}: {exc})") from None
            warnings.warn(f"{path}: stream breaks off after {n_out / (fps or 1):.1f} s ({exc}); "
                          "using the frames before the break", stacklevel=2)
        if held is not None and fps is not None:
            end = held[0] + gap  # the last frame is shown for one input frame interval
            while n_out / fps < end - 1e-9:
                yield n_out / fps, image()
                n_out += 1
        if n_out == 0:
            raise ActlineError(path, "the video has no frames")
    finally:
        container.close()


MAX_ASPECT = 8.0  # long side over short side; super-wide screens are 32:9 = 3.6


def _check_size(path: Path, width: int, height: int, limits: ReadLimits) -> None:
    """Frames must be within the pixel limit and of a sane shape: the short side is resized to ``size``, so a
    frame of 30000x2 pixels (a 50 KB file) would otherwise become a 1 GB image."""
    if width <= 0 or height <= 0:  # not known before the first frame
        return
    if width * height > limits.max_video_pixels:
        raise ActlineError(path, f"frames of {width}x{height} pixels, more than the limit of "
                                 f"{limits.max_video_pixels:,} pixels")
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise ActlineError(path, f"frames of {width}x{height} pixels: an aspect ratio beyond {MAX_ASPECT:g}:1 is refused")


def _within(path: Path, t: float, k: int, rate: float, limits: ReadLimits) -> bool:
    """Whether decoded frame ``k`` at ``t`` s may be used: False (with a warning) past the real length."""
    limits.check_deadline(path)
    bound = RUNAWAY_FACTOR * (k + 1) / rate + RUNAWAY_SLACK_S
    if t > bound:
        warnings.warn(f"{path}: frame {k} is stamped {t:.1f} s, past the stream's real length ({k + 1} frames "
                      f"at {rate:g} fps); the rest of the file is ignored", stacklevel=3)
        return False
    if t > limits.max_video_s:
        raise ActlineError(path, f"the video is longer than the limit of {limits.max_video_s:g} s")
    return True


def iter_chunks(frames: Iterable[tuple[float, np.ndarray]], chunk: int = 16, stride: int = 16,
                fps: float = 8.0) -> Iterator[tuple[float, float, np.ndarray]]:
    """(start_s, end_s, [chunk, H, W, C]) windows; the last partial chunk is padded with its last frame.

    A video shorter than one chunk gives one padded chunk; ``end_s`` always marks real frames only.
    """
    buf: list[np.ndarray] = []
    times: list[float] = []
    next_start = 0
    consumed = 0  # index of buf[0] in the frame sequence
    last_end = -1
    for t, f in frames:
        buf.append(f)
        times.append(t)
        while len(buf) >= (next_start - consumed) + chunk:
            i = next_start - consumed
            yield times[i], times[i + chunk - 1] + 1.0 / fps, np.stack(buf[i:i + chunk])
            last_end = next_start + chunk
            next_start += stride
            drop = min(next_start - consumed, len(buf))
            del buf[:drop], times[:drop]
            consumed += drop
    i = next_start - consumed
    n_total = consumed + len(buf)
    if n_total > last_end and 0 <= i < len(buf):  # frames no chunk has covered yet
        part = buf[i:]
        pad = [part[-1]] * (chunk - len(part))
        yield times[i], times[-1] + 1.0 / fps, np.stack(part + pad)


def prefetch(it: Iterable, depth: int = 4) -> Iterator:
    """Run an iterator in a worker thread, ``depth`` items ahead (FFmpeg decodes without the GIL).

    Exceptions raised in the worker are re-raised in the caller at the point they occurred.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def work():
        try:
            for item in it:
                if stop.is_set():
                    return
                q.put(("item", item))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer thread
            q.put(("error", exc))
        finally:
            q.put(("end", done))

    th = threading.Thread(target=work, daemon=True, name="actline-decode")
    th.start()
    try:
        while True:
            kind, item = q.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        while th.is_alive():  # drain so the worker is not blocked on a full queue
            try:
                q.get_nowait()
            except queue.Empty:
                th.join(0.05)


def video_chunks(path: str | Path, spec: VideoSpec = VideoSpec()) -> Iterator[tuple[float, float, np.ndarray]]:
    return iter_chunks(iter_frames(path, spec.fps, spec.size), spec.chunk, spec.stride, spec.fps)


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float, codec: str = "libx264",
                crf: int = 23) -> Path:
    """Encode RGB uint8 frames with PyAV (atomically: a temporary file, then rename)."""
    from fractions import Fraction

    from actline.core.atomic import atomic_path

    path = Path(path)
    with atomic_path(path, suffix=path.suffix) as tmp:
        fmt = {".mkv": "matroska", ".mov": "mov", ".avi": "avi", ".webm": "webm"}.get(path.suffix.lower(), "mp4")
        with av.open(str(tmp), mode="w", format=fmt) as out:
            stream = None
            for f in frames:
                if stream is None:
                    h, w = f.shape[:2]
                    stream = out.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
                    stream.width, stream.height = w - w % 2, h - h % 2
                    stream.pix_fmt = "yuv420p"
                    if codec == "libx264":
                        stream.options = {"crf": str(crf), "preset": "veryfast"}
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(f[:stream.height, :stream.width]), format="rgb24")
                for pkt in stream.encode(frame):
                    out.mux(pkt)
            if stream is None:
                raise ActlineError(path, "no frames to write")
            for pkt in stream.encode():
                out.mux(pkt)
    return path
