"""The empty room behind a live sensor, learnt only where nobody is: a still person never fades into it.

A per-pixel median over the last minutes (what streaming used before) absorbs a person who lies
still for longer than half of those minutes, and the fall alert ends: the very case a care home
buys the sensor for. :class:`BackgroundModel` instead keeps a foreground mask and updates the
background only outside it:

- **seed**: the per-pixel median of an empty-room period when one is known (:meth:`seed`), else of
  the first ``warmup`` frames; there, a pixel that is warm for part of the frames and cool for the
  rest (someone moved over it) takes the median of its cool frames instead of the median of all;
- **foreground** (per frame, on the 3×3 mean of the frame minus the background, the room's common
  drift removed, in units of the noise ``sigma`` measured on background pixels): a pixel enters
  when it is ``enter`` sigma warmer than the background, or ``exit`` sigma warmer while warming
  from one frame to the next (motion); it stays while it is ``exit`` sigma warmer and touches the
  previous mask (hysteresis in value and in space). Pixels more than ``hot_c`` warmer are a heat
  source, not a person;
- **update**: outside the mask grown by one pixel, the background follows each pixel with time
  constant ``time_constant_s``; under it, it follows only the room's common drift, so a person
  who lies still for hours stays foreground, and the floor under them is right when they get up.

A heat source that switches on after the seed counts as foreground until it cools again (it
never becomes background): seed from an empty-room period with it on, or restore a saved state.

:func:`estimate_window_background` seeds the same estimator from a batch of frames (what
``Recognizer.predict`` uses when no room is passed): one vectorised median over a subsample, a few
milliseconds for a 40x60 window.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from actline.core.errors import ActlineError
from actline.data.dataset import INVALID_BELOW_C

STATE_VERSION = 1


@dataclass
class BackgroundConfig:
    time_constant_s: float = 60.0  # how fast background pixels follow the room
    enter: float = 5.0  # sigma above the background to become foreground
    exit: float = 2.5  # sigma above the background to stay foreground (and to enter while warming)
    motion: float = 3.0  # sigma of frame-to-frame warming that counts as motion
    hot_c: float = 15.0  # warmer than the background by more than this: a heat source, not a person
    warmup: int = 32  # frames whose median seeds the background when no empty room is known
    min_sigma_c: float = 0.01  # noise floor (quantised sensors repeat values exactly)
    frame_dt_s: float = 0.1  # assumed frame interval when no timestamps are given
    update_every: int = 4  # frames between updates (the mask and the background move slower than frames)

    def validate(self) -> BackgroundConfig:
        if not 0 < self.exit <= self.enter:
            raise ActlineError("background", f"need 0 < exit <= enter, got exit={self.exit}, enter={self.enter}")
        if self.time_constant_s <= 0 or self.warmup < 1:
            raise ActlineError("background", "time_constant_s must be > 0 and warmup >= 1")
        return self


def _box3(a: np.ndarray) -> np.ndarray:
    return ndimage.uniform_filter(a, size=3, mode="nearest")


def _grow(mask: np.ndarray) -> np.ndarray:
    """The mask grown by one pixel (8-neighbourhood): slices, several times faster than
    ``ndimage.binary_dilation`` on a 40x60 frame, which matters at a thousand frames a second."""
    p = np.pad(mask, 1)
    r = p[:-2] | p[1:-1] | p[2:]
    return r[:, :-2] | r[:, 1:-1] | r[:, 2:]


def _valid(frames: np.ndarray) -> np.ndarray:
    return frames > INVALID_BELOW_C


class BackgroundModel:
    """One sensor's empty room, [H, W] °C, with its foreground mask; ``update(frame, t)`` per frame."""

    def __init__(self, shape: tuple[int, int], cfg: BackgroundConfig | None = None):
        self.shape, self.cfg = (int(shape[0]), int(shape[1])), (cfg or BackgroundConfig()).validate()
        self.bg: np.ndarray | None = None
        self.fg = np.zeros(self.shape, bool)
        self.prev: np.ndarray | None = None
        self.sigma = 0.1
        self.last_t: float | None = None
        self.seeded_empty = False
        self._warm: list[np.ndarray] = []
        self._skipped = 0
        self._dt = 0.0

    @property
    def ready(self) -> bool:
        return self.bg is not None

    @property
    def room(self) -> np.ndarray:
        """The current estimate (during warm-up: the median of the frames so far)."""
        if self.bg is not None:
            return self.bg
        if not self._warm:
            raise ActlineError("background", "no frame seen yet")
        return _seed(np.stack(self._warm), self.cfg)[0]

    def seed(self, frames, empty: bool = True) -> None:
        """Seed from frames [N, H, W] °C: an empty-room period (``empty``), or the first frames seen."""
        x = self._check(frames)
        self.bg, self.sigma = _seed(x, self.cfg, low=not empty)
        self.fg[:] = False
        self.prev = np.where(_valid(x[-1]), x[-1], self.bg).astype(np.float32)
        self.seeded_empty, self._warm = empty, []

    def update(self, frame, t: float | None = None) -> None:
        x = np.asarray(frame, dtype=np.float32)
        if x.shape != self.shape:
            raise ActlineError("background", f"expected a {self.shape[0]}x{self.shape[1]} frame, got {x.shape}")
        dt = self.cfg.frame_dt_s if t is None or self.last_t is None else min(max(t - self.last_t, 0.0), 60.0)
        self.last_t = t if t is not None else (self.last_t or 0.0) + dt
        if self.bg is None:
            self._warm.append(x.copy())
            if len(self._warm) >= self.cfg.warmup:
                self.seed(np.stack(self._warm), empty=False)
            return
        self._dt += dt
        self._skipped += 1
        if self._skipped >= self.cfg.update_every:
            self._step(x, self._dt)
            self._skipped, self._dt = 0, 0.0

    def _step(self, x: np.ndarray, dt: float) -> None:
        c, bg = self.cfg, self.bg
        valid = _valid(x)
        if not valid.all():
            x = np.where(valid, x, bg)
        d = x - bg
        protect = _grow(self.fg)
        free = valid & ~protect
        n_free = int(np.count_nonzero(free))
        drift = float(np.sum(d, where=free)) / n_free if n_free else 0.0
        s = _box3(d)
        s -= drift
        lo = s > c.exit * self.sigma
        if lo.any():
            warming = _box3(x - self.prev) > c.motion * self.sigma * math.sqrt(2)
            self.fg = ((s > c.enter * self.sigma) | (lo & (warming | protect))) & (s < c.hot_c) & valid
            protect = _grow(self.fg)
            free = valid & ~protect
        else:
            self.fg[:] = False
            free = valid
        alpha = np.float32(1.0 - math.exp(-dt / c.time_constant_s))
        bg += np.where(free, alpha * d, np.float32(alpha * drift))
        rest = s[free][::3]  # the noise where nobody is (none when the whole frame changed: sigma stays)
        if rest.size > 8:
            mad = float(np.median(np.abs(rest))) * 1.4826
            self.sigma = max(c.min_sigma_c, 0.95 * self.sigma + 0.05 * mad)
        self.prev = x

    def _check(self, frames) -> np.ndarray:
        x = np.asarray(frames, dtype=np.float32)
        if x.ndim != 3 or x.shape[1:] != self.shape or len(x) == 0:
            raise ActlineError("background", f"expected [N, {self.shape[0]}, {self.shape[1]}] frames, got {x.shape}")
        return x

    # ------------------------------------------------------------------ state
    def state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """(JSON-able scalars, arrays) that :meth:`from_state` restores exactly."""
        meta = {"version": STATE_VERSION, "config": asdict(self.cfg), "shape": list(self.shape),
                "sigma": self.sigma, "last_t": self.last_t, "seeded_empty": self.seeded_empty}
        arrays = {"fg": self.fg.astype(np.uint8)}
        if self.bg is not None:
            arrays.update(bg=self.bg, prev=self.prev)
        if self._warm:
            arrays["warm"] = np.stack(self._warm)
        return meta, arrays

    @classmethod
    def from_state(cls, meta: dict, arrays: dict[str, np.ndarray], where: str = "background state") -> BackgroundModel:
        try:
            if meta["version"] != STATE_VERSION:
                raise ValueError(f"version {meta['version']} (this build reads {STATE_VERSION})")
            m = cls(tuple(meta["shape"]), BackgroundConfig(**meta["config"]))
            m.sigma, m.last_t, m.seeded_empty = float(meta["sigma"]), meta["last_t"], bool(meta["seeded_empty"])
            m.fg = np.asarray(arrays["fg"]).astype(bool).reshape(m.shape)
            if "bg" in arrays:
                m.bg = np.array(arrays["bg"], dtype=np.float32).reshape(m.shape)
                m.prev = np.array(arrays["prev"], dtype=np.float32).reshape(m.shape)
            m._warm = [np.array(f, dtype=np.float32).reshape(m.shape) for f in arrays.get("warm", [])]
        except (KeyError, TypeError, ValueError) as exc:
            raise ActlineError(where, f"not a background state ({type(exc).__name__}: {exc})") from None
        return m


def _sorted(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``x`` [N, H, W] sorted along the frames, sentinel readings (``~valid``) last (as +inf)."""
    return np.sort(np.where(valid, x, np.float32(np.inf)), axis=0)


def median_of_smallest(s: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Along the first axis, the median of the ``k`` smallest values of the sorted ``s`` [N, ...] (``k`` [...],
    counted as at least 1), as ``np.median`` computes it (the mean of the two middle values for an even count)."""
    k = np.maximum(k, 1)
    lo = np.take_along_axis(s, ((k - 1) // 2)[None], axis=0)[0]
    hi = np.take_along_axis(s, (k // 2)[None], axis=0)[0]
    return (lo + hi) / np.float32(2)


def _percentile(ordered: np.ndarray, q: float) -> np.ndarray:
    """Per pixel, the ``q``-th percentile of the sorted ``ordered`` [N, H, W], interpolated linearly between
    the two nearest values as ``np.percentile`` does (which partitions anew for every call: 5 ms here)."""
    pos = q / 100.0 * (len(ordered) - 1)
    i = int(np.floor(pos))
    j, t = min(i + 1, len(ordered) - 1), np.float32(pos - i)
    return ordered[i] + (ordered[j] - ordered[i]) * t


def _seed(x: np.ndarray, cfg: BackgroundConfig, low: bool = True) -> tuple[np.ndarray, float]:
    """(background, noise sigma) from frames [N, H, W]: the per-pixel median, sentinels ignored;
    with ``low``, pixels someone moved over (warm in some frames, cool in others) take the median of
    their values below the midpoint of their 5th and 95th percentiles: the frames nobody covered.

    Vectorised over pixels (sorts along the frames, no masked arrays and no loop over frames): the medians
    are ``np.nanmedian``'s over the valid readings, the percentiles ``np.percentile``'s to float rounding."""
    x = np.asarray(x, dtype=np.float32)
    valid = _valid(x)
    n_valid = valid.sum(axis=0)
    med = median_of_smallest(_sorted(x, valid), n_valid)
    if not n_valid.all():  # pixels dead in every frame take the median of every valid reading
        fallback = np.float32(np.median(x[valid])) if valid.any() else np.float32(20.0)
        med = np.where(n_valid > 0, med, fallback)
    med = med.astype(np.float32)
    filled = np.where(valid, x, med[None])
    if len(x) > 1:
        resid = ndimage.uniform_filter(filled - med[None], size=(1, 3, 3), mode="nearest")
    else:
        resid = np.zeros_like(filled)
    sigma = max(cfg.min_sigma_c, float(np.median(np.abs(resid))) * 1.4826)
    if low and len(x) > 2:
        ordered = np.sort(filled, axis=0)
        lo, hi = _percentile(ordered, 5), _percentile(ordered, 95)
        moved = (resid.max(axis=0) - resid.min(axis=0)) > 2 * cfg.enter * sigma
        n_below = (filled < ((lo + hi) / 2)[None]).sum(axis=0)
        cool = median_of_smallest(ordered, n_below)  # the n_below smallest are those below the midpoint
        med = np.where(moved & (n_below > 0), cool, med)
    return med.astype(np.float32), sigma


WINDOW_FRAMES = 64  # frames the one-window estimate reads: evenly spaced over the frames given


def estimate_window_background(frames, timestamps=None, cfg: BackgroundConfig | None = None,
                               max_frames: int = WINDOW_FRAMES) -> np.ndarray:
    """The empty room behind a batch of frames [N, H, W] °C, as the live estimator seeds it: the per-pixel
    median of up to ``max_frames`` evenly spaced frames, sentinels ignored, where a pixel someone moved over
    takes its cool value. It cannot see the floor under a person who never moves: estimate the room once
    per recording or sensor (from its empty periods if known) and pass it on (``Recognizer.predict(room=)``).
    ``timestamps`` are accepted for callers of earlier versions and not needed."""
    x = np.asarray(frames, dtype=np.float32)
    if x.ndim != 3 or len(x) == 0:
        raise ActlineError("background", f"expected [N, H, W] frames, got shape {x.shape}")
    if len(x) > max_frames:
        x = x[np.linspace(0, len(x) - 1, max_frames).round().astype(np.int64)]
    return _seed(x, (cfg or BackgroundConfig()).validate(), low=True)[0]
