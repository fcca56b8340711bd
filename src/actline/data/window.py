"""The window rule: how a model's input is cut from a recording, written once for every consumer.

A :class:`WindowRule` is a small value saved in every model directory (``config.json``, ``window``)
and read back by everything that feeds the model: training and evaluation (through
:meth:`ClipDataset.window <actline.data.dataset.ClipDataset.window>`), the
:class:`~actline.infer.recognizer.Recognizer`, live streams, export, feature extraction and the
timeline pipeline. It holds:

- ``length``: steps per window;
- ``mode``: ``"index"`` (``length`` consecutive frames ``c - length//2 .. c + length - length//2 - 1``,
  repeating the edge frame past either end) or ``"time"`` (``length`` instants ``1/fps`` apart, centred
  the same way on the centre frame's timestamp, each taking the latest frame at or before it:
  sample-and-hold, so recordings at 6 or 30 fps give windows of the same duration);
- ``fps``: steps per second of a time window;
- ``background``: what is subtracted from every window: ``"none"``, ``"recording-median"`` (the empty
  room) or ``"static-heat"`` (only what cannot be a person: :func:`static_heat`);
- ``fill``: how sentinel pixels (readings below −100 °C) are filled: ``"frame-median"``, the median
  of the frame's valid pixels.

:meth:`WindowRule.cut` cuts one window from a recording at a frame, or from a buffer of frames
(the middle of it); :meth:`WindowRule.cut_many` many windows of one recording. The empty room that
a background mode subtracts is the recording's own (:meth:`Recording.empty_room
<actline.data.dataset.Recording.empty_room>`) for recordings, the live estimator's over the frames
for a buffer (:func:`~actline.data.background.estimate_window_background`), or the ``room`` the
caller passes (a stream's running empty room).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from actline.core.errors import ActlineError
from actline.data.dataset import INVALID_BELOW_C, Recording

MODES = ("index", "time")
BACKGROUNDS = ("none", "recording-median", "static-heat")
FILLS = ("frame-median",)
PERSON_WARMTH_C = (1.0, 12.0)  # a person reads 1-10 °C over the floor (real 40x60 data: 5.8-8.7 °C, p10-p90)


@dataclass(frozen=True)
class WindowRule:
    """How a window is cut and cleaned (see the module doc)."""

    length: int = 64
    mode: str = "index"
    fps: float = 10.0
    background: str = "none"
    fill: str = "frame-median"

    def __post_init__(self):
        checks = (("length", isinstance(self.length, int) and self.length >= 1, f"must be >= 1, got {self.length}"),
                  ("mode", self.mode in MODES, f"must be 'index' or 'time', got {self.mode!r}"),
                  ("fps", isinstance(self.fps, (int, float)) and self.fps > 0, f"must be > 0, got {self.fps}"),
                  ("background", self.background in BACKGROUNDS,
                   f"must be one of {', '.join(BACKGROUNDS)}, got {self.background!r}"),
                  ("fill", self.fill in FILLS, f"must be one of {', '.join(FILLS)}, got {self.fill!r}"))
        for name, ok, problem in checks:
            if not ok:  # the field at fault is named, so that a command can name its option
                raise ActlineError(f"window.{name}", f"window {name} {problem}")

    # ------------------------------------------------------------------ saving
    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d, where="window") -> WindowRule:
        """The rule a model directory saved (``config.json``'s ``window``); older directories lack
        ``background`` (none) and ``fill`` (frame-median)."""
        try:
            known = {k: d[k] for k in ("background", "fill") if d.get(k) is not None}
            return cls(length=int(d["length"]), mode=str(d.get("mode", "index")), fps=float(d.get("fps", 10.0)), **known)
        except ActlineError as exc:
            raise ActlineError(where, exc.message) from None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ActlineError(where, f"bad window ({type(exc).__name__}: {exc})") from None

    def widened(self, extra: int) -> WindowRule:
        """The same rule ``2 * extra`` steps longer (room for a temporal crop in training)."""
        return replace(self, length=self.length + 2 * extra) if extra else self

    @property
    def seconds(self) -> float | None:
        """What a time window spans, first step to last (None for index windows)."""
        return (self.length - 1) / self.fps if self.mode == "time" else None

    # ------------------------------------------------------------------ where a window lies
    def indices(self, timestamps: np.ndarray, centre: int) -> np.ndarray:
        """Frame indices of the window centred on frame ``centre`` of a recording with ``timestamps`` (s)."""
        offsets = np.arange(self.length) - self.length // 2
        if self.mode == "index":
            idx = centre + offsets
        else:
            t = timestamps[centre] + offsets / self.fps
            idx = np.searchsorted(timestamps, t, side="right") - 1
        return np.clip(idx, 0, len(timestamps) - 1)

    def span_s(self, timestamps: np.ndarray, centre: int) -> tuple[float, float]:
        """First and last timestamp a window covers."""
        idx = self.indices(timestamps, centre)
        return float(timestamps[idx[0]]), float(timestamps[idx[-1]])

    def centres(self, n_frames: int, stride: int) -> np.ndarray:
        """Centres of windows every ``stride`` frames that cover ``n_frames`` (the last aligned to the end),
        as feature extraction and timelines slide them."""
        starts = list(range(0, max(n_frames - self.length, 0) + 1, stride))
        if starts[-1] + self.length < n_frames:
            starts.append(n_frames - self.length)
        return np.minimum(np.asarray(starts, dtype=np.int64) + self.length // 2, max(n_frames - 1, 0))

    def middle(self, frames: np.ndarray, timestamps, where) -> int:
        """The centre of the window a buffer of frames gives (its middle), after checking it is long enough."""
        n = len(frames)
        if self.mode == "index":
            if n < self.length:
                raise ActlineError(where, f"too few frames: the model needs {self.length}, got {n}")
            return (n - self.length) // 2 + self.length // 2
        need = self.seconds
        if timestamps[-1] - timestamps[0] < 0.5 * need:
            raise ActlineError(where, f"too few frames: the model needs about {need:.1f} s, "
                                      f"got {timestamps[-1] - timestamps[0]:.1f} s")
        return n // 2

    # ------------------------------------------------------------------ cutting
    def cut(self, source, timestamps=None, at: int | None = None, room=None, where="frames") -> np.ndarray:
        """One [T, H, W] float32 °C window, sentinels filled and the background removed.

        ``source``: a :class:`Recording` (``at``: its centre frame) or a buffer of frames [N, H, W] °C with
        their ``timestamps`` (s; needed by time windows); without ``at`` a buffer gives its middle window.
        ``room``: the empty room [H, W] to remove; by default the recording's own, or the live
        estimator's over the buffer."""
        if isinstance(source, Recording):
            return self.cut_many(source, [source.n_frames // 2 if at is None else at], room, where)[0]
        frames = np.asarray(source)
        ts = self._times(frames, timestamps, where)
        centre = self.middle(frames, ts, where) if at is None else int(at)
        win = fill_invalid(frames[self.indices(ts, centre)])
        if self.background != "none" and room is None:
            from actline.data.background import estimate_window_background

            room = estimate_window_background(frames)
        return self.remove_background(win, room, where)

    def cut_many(self, rec: Recording, centres, room=None, where=None) -> np.ndarray:
        """[N, T, H, W] windows of ``rec`` centred on the frames ``centres`` (its own empty room by default)."""
        if self.background != "none" and room is None:
            room = rec.empty_room()
        wins = [self.remove_background(fill_invalid(rec.frames[self.indices(rec.timestamps, int(c))]), room,
                                       where or rec.source or rec.id) for c in centres]
        return np.stack(wins) if wins else np.zeros((0, self.length, *rec.frames.shape[1:]), np.float32)

    def remove_background(self, win: np.ndarray, room, where="window") -> np.ndarray:
        if self.background == "none":
            return win
        room = np.asarray(room, dtype=np.float32)
        if room.shape != win.shape[1:]:
            raise ActlineError(where, f"the empty room must be {win.shape[1]}x{win.shape[2]}, got {room.shape}")
        return remove_background(win, room, self.background)

    def _times(self, frames: np.ndarray, timestamps, where) -> np.ndarray:
        if self.mode == "index":  # consecutive frames: their times play no part
            return np.arange(len(frames), dtype=np.float64)
        if timestamps is None:
            raise ActlineError(where, "this model resamples by time: pass timestamps (seconds) with the frames")
        ts = np.asarray(timestamps, dtype=np.float64)
        if ts.shape != (len(frames),) or not np.isfinite(ts).all() or (np.diff(ts) < 0).any():
            raise ActlineError(where, "timestamps must be finite, non-decreasing, one per frame")
        return ts


def static_heat(room: np.ndarray, warmth: tuple[float, float] = PERSON_WARMTH_C) -> np.ndarray:
    """The part of an empty-room estimate that cannot be a person: the floor's unevenness and heat sources
    hotter than any person. Pixels of ``room`` as warm as a person over the floor are set to the floor.

    A recording-wide median is the empty room only if people move; where someone lies or sits still for
    most of the recording (a person in bed all night), the median holds them, and subtracting it erases
    them. Keeping person-warm pixels out of what is subtracted keeps that person, while lamps, heaters
    and the floor pattern still go.
    """
    room = np.asarray(room, dtype=np.float32)
    floor = float(np.median(room))
    excess = room - floor
    return np.where((excess > warmth[0]) & (excess < warmth[1]), np.float32(floor), room)


def remove_background(win: np.ndarray, room: np.ndarray, mode: str) -> np.ndarray:
    """``mode``: "none" (unchanged), "recording-median" (subtract ``room``), "static-heat" (subtract only
    what cannot be a person, :func:`static_heat`). The room's mean is added back: values stay in °C."""
    if mode == "none":
        return win
    if mode == "static-heat":
        room = static_heat(room)
    elif mode != "recording-median":
        raise ActlineError("window", f"unknown background mode {mode!r} (known: {', '.join(BACKGROUNDS)})")
    return (win - room[None] + float(room.mean())).astype(np.float32)


def fill_invalid(frames: np.ndarray) -> np.ndarray:
    """Replace sentinel pixels by the median of the valid pixels of the same frame.

    A frame with no valid pixel takes the median of the whole window. The medians are ``np.nanmedian``'s,
    computed with one sort of each frame's pixels (``nanmedian`` loops over frames in Python when any is NaN).
    """
    from actline.data.background import median_of_smallest

    frames = np.asarray(frames, dtype=np.float32)
    bad = frames <= INVALID_BELOW_C
    if not bad.any():
        return frames
    out = frames.copy()
    flat, ok = frames.reshape(len(frames), -1), ~bad.reshape(len(frames), -1)
    n_ok = ok.sum(axis=1)
    per_frame = median_of_smallest(np.sort(np.where(ok, flat, np.float32(np.inf)), axis=1).T, n_ok)
    if not n_ok.all():  # 20 °C where nothing in the window is valid
        per_frame[n_ok == 0] = np.float32(np.median(flat[ok])) if n_ok.any() else np.float32(20.0)
    out[bad] = np.broadcast_to(per_frame[:, None, None], frames.shape)[bad]
    return out
