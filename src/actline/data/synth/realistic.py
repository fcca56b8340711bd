"""The realistic preset of the synthetic thermal generator: ``SynthConfig(preset="realistic")``.

Built to match what real 40x60 ceiling recordings measure (``thermal-40x60-facts.md``):

- **Rooms.** Recordings come from a few locations (``<LOCATION>_R<k>`` sensor ids, 1-4 recordings
  each, unevenly). Each location is nearly one scenario (mostly lying on the bed, mostly lying on
  the floor, mostly sitting, mostly standing) and has its own floor temperature (~18 °C), furniture,
  hot objects and sensor placement (:class:`~actline.data.synth.realistic_room.Room`), so a room never seen
  is a real domain shift.
- **Time.** ~84 s and ~500 frames per recording: the sensor's own rate (6-31 fps) inside short
  bursts, the bursts ~6 frames/s on average, so 64 frames span ~10 s and ~10 % of the intervals
  are gaps over 0.5 s (longer when a burst is lost). Timestamps are int64 ms.
- **Labels.** A person stays in the room's main posture and now and then leaves it for a few
  seconds (short, rare transitions; brief lower positions), so classes span two orders of
  magnitude. A second person sometimes walks in. Keyframes every ~1.45 s, split at random into
  train.json / val.json (the earlier system's protocol). The label plan of a whole data set is
  redrawn (at most ``_ATTEMPTS`` times) until it has real data's class profile
  (:func:`_class_profile_problems`; sets of 8 recordings or more).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from actline.core.atomic import atomic_dir
from actline.data.synth.common import (
    BASE_MS,
    annotation_entry,
    image_entry,
    mac_address,
    write_annotations,
)
from actline.data.synth.realistic_room import Room, SensorUnit, person_box, render_people, sensor_readout
from actline.data.synth.realistic_story import (
    Track,
    calibration_story,
    label_at,
    person_track,
    story,
    visitor_story,
)
from actline.data.thermal_h5 import write_recording_h5

MAIN = {"bed": "lying down-lying on the bed/couch", "floor": "lying down-lying with risk", "sitting": "sitting",
        "standing": "standing"}
_ATTEMPTS = 60


def generate_realistic_dataset(out: str | Path, cfg, overwrite: bool = False) -> Path:
    """Write the realistic preset's ThermalDataGen directory for ``cfg`` (a SynthConfig) at ``out``."""
    out = Path(out)
    plans = _plan_dataset(cfg)
    if cfg.calibration is not None:
        plans = calibration_plans(cfg, plans)
    images, annotations = [], []
    with atomic_dir(out, overwrite=overwrite) as tmp:
        (tmp / "frames").mkdir()
        (tmp / "annotations").mkdir()
        for r, plan in enumerate(plans):
            tracks = [person_track(np.random.default_rng([*plan["key"], 1 + i]), plan["room"], segs, plan["times"])
                      for i, segs in enumerate(plan["people"])]
            rng = np.random.default_rng([*plan["key"], 0])
            frames = _render(plan["room"], tracks, plan, rng)
            ts_ms = BASE_MS + r * 86_400_000 + np.round(plan["times"] * 1000).astype(np.int64)
            write_recording_h5(tmp / "frames" / f"{plan['name']}.h5", frames, ts_ms, plan["name"], plan["mac"])
            for idx in plan["keyframes"]:
                image = image_entry(plan["name"], plan["mac"], int(ts_ms[idx]), int(idx), cfg.height, cfg.width)
                images.append(image)
                for obj_id, track in enumerate(t for t in tracks if t.on[idx]):
                    box, hidden = person_box(plan["room"], track.y[idx], track.x[idx], track.angle[idx],
                                             track.parts[idx], rng)
                    annotations.append(annotation_entry(len(annotations) + 1, image["id"], box, track.labels[idx],
                                                        obj_id, hidden))
        write_annotations(tmp / "annotations", images, annotations, cfg, np.random.default_rng(cfg.seed),
                          "actline.data.synth.realistic")
    return out


def calibration_plans(cfg, plans: list[dict]) -> list[dict]:
    """One calibration recording (``<LOCATION>_C1``) for each location ``cfg.calibration`` names (all when it
    names none) of the data set ``plans`` describe: the same room, sensor and placement, a session in which
    the person performs each of the room's activities once (:func:`calibration_story`)."""
    rooms = {}
    for plan in plans:
        rooms.setdefault(plan["name"].split("_")[0], plan)
    wanted = list(cfg.calibration) or sorted(rooms)
    unknown = sorted(set(wanted) - set(rooms))
    if unknown:
        raise ValueError(f"no location {', '.join(unknown)} in this data set (its locations: {', '.join(sorted(rooms))})")
    out = []
    for li, loc in enumerate(wanted):
        base, rng = rooms[loc], np.random.default_rng([cfg.seed, 7_000_002, li])
        times = burst_times(rng, cfg, False)
        people = [calibration_story(rng, base["room"], float(times[-1]))]
        keyframes = _keyframes(rng, times, cfg.keyframe_every_s)
        out.append({**base, "name": f"{loc}_C1", "times": times, "people": people, "keyframes": keyframes,
                    "key": (cfg.seed, 7_000_002, li), "sentinel_share": base["sentinel_share"], "flare": False,
                    "labels": [[lab for segs in people if (lab := label_at(segs, times[i]))] for i in keyframes]})
    return out


def _render(room: Room, tracks: list[Track], plan: dict, rng: np.random.Generator) -> np.ndarray:
    n = len(plan["times"])
    static, hot = room.background(rng, n)
    people = [{"y": t.y, "x": t.x, "angle": t.angle, "parts": t.parts, "on": t.on} for t in tracks]
    scene = static[None] + np.maximum(hot, render_people(room, people, n))  # whoever is nearer the sensor shows
    return sensor_readout(room, scene, rng, plan["sentinel_share"], plan["flare"])


def _plan_dataset(cfg) -> list[dict]:
    """Rooms, times, stories and keyframes of every recording. A set of 8 recordings or more is
    redrawn until its labels have real data's profile (or the closest of ``_ATTEMPTS`` draws)."""
    best, best_bad = None, None
    for attempt in range(_ATTEMPTS if cfg.n_recordings >= 8 else 1):
        plans = _plan_attempt(cfg, attempt)
        bad = _class_profile_problems(plans)
        if not bad:
            return plans
        if best is None or len(bad) < len(best_bad):
            best, best_bad = plans, bad
    return best


def _class_profile_problems(plans: list[dict]) -> list[str]:
    """Where the label plan's boxes (as thermal_stats counts them) leave real data's profile."""
    counts = Counter(lab for p in plans for labels in p["labels"] for lab in labels)
    c = np.array(sorted(counts.values()))
    checks = {"largest class share": 0.32 <= c[-1] / c.sum() <= 0.58, "largest / smallest": c[-1] / c[0] >= 80,
              "classes present": 11 <= len(c) <= 12, "rare classes": (c <= 15).sum() >= 5}
    return [k for k, ok in checks.items() if not ok]


def _locations(rng: np.random.Generator, n_rec: int, n_loc: int) -> list[tuple[str, str, int]]:
    """(name, scenario, recordings) per location: uneven counts (1-4 where possible), the four
    scenarios first and then more lying rooms, drawn until the main class holds 33-55 % of the time."""
    for _ in range(200):
        counts = np.ones(n_loc, dtype=int)
        cap = max(4, int(np.ceil(n_rec / n_loc)))
        for _k in range(n_rec - n_loc):
            free = np.flatnonzero(counts < cap)
            counts[free[int(np.argmax(rng.dirichlet(np.ones(len(free))) * rng.random(len(free))))]] += 1
        base = list(rng.permutation(list(MAIN)))
        extra = list(rng.choice(["bed", "floor", "bed", "floor", "sitting", "standing"], size=max(0, n_loc - 4)))
        scen = (base + extra)[:n_loc]
        share = {s: 0.0 for s in MAIN}
        for s, k in zip(scen, counts):
            share[s] += k * (0.75 if s == "standing" else 0.86) / n_rec
        if 0.33 <= max(share.values()) <= 0.55 or n_loc < 3:
            break
    names = rng.choice(np.arange(1, 41), size=n_loc, replace=False)
    return [(f"SL{int(k)}", str(s), int(c)) for k, s, c in zip(names, scen, counts)]


def _plan_attempt(cfg, attempt: int) -> list[dict]:
    root = np.random.default_rng([cfg.seed, attempt])
    n_loc = cfg.n_locations or max(1, int(np.ceil(cfg.n_recordings / 2.5)))
    plans = []
    units = sensor_units(cfg)
    for li, (loc, scenario, k) in enumerate(_locations(root, cfg.n_recordings, n_loc)):
        room = Room(np.random.default_rng([cfg.seed, attempt, 1000 + li]), cfg.height, cfg.width, scenario,
                    units[li % len(units)])
        mac = mac_address(root)
        for rec_no in np.sort(root.choice(np.arange(1, 13), size=k, replace=False)):
            plans.append({"name": f"{loc}_R{int(rec_no)}", "room": room, "mac": mac})
    order = root.permutation(len(plans))  # one day per recording, locations interleaved
    plans = [plans[i] for i in order]
    n = len(plans)
    flare_at = int(root.integers(n))  # one recording's heater saturates the sensor
    slow = root.permutation(n) < round(0.35 * n)  # sensors at 6-11 fps; the others at 20-31 fps
    dirty = root.permutation(n) < round(2 * n / 3)  # with dead-pixel sentinels in 8-27 % of the frames
    for r, plan in enumerate(plans):
        rng = np.random.default_rng([cfg.seed, attempt, r])
        times = burst_times(rng, cfg, bool(slow[r]))
        people = [story(rng, plan["room"], MAIN[plan["room"].scenario], float(times[-1]))]
        if rng.random() < 0.15:
            people.append(visitor_story(rng, plan["room"], float(times[-1])))
        keyframes = _keyframes(rng, times, cfg.keyframe_every_s)
        plan.update(times=times, people=people, keyframes=keyframes, key=(cfg.seed, attempt, r),
                    labels=[[lab for segs in people if (lab := label_at(segs, times[i]))] for i in keyframes],
                    sentinel_share=rng.uniform(0.08, 0.27) * dirty[r], flare=r == flare_at)
    return plans


def sensor_units(cfg) -> list[SensorUnit]:
    """The data set's physical sensors (one or two), moved between its locations."""
    rng = np.random.default_rng([cfg.seed, 7_000_001])
    return [SensorUnit(rng, cfg.height, cfg.width) for _ in range(1 + int(rng.random() < 0.5))]


def burst_times(rng: np.random.Generator, cfg, slow: bool = False) -> np.ndarray:
    """Frame times in s: bursts at the sensor's own rate (a slow sensor: the low end of
    ``cfg.fps_range``), ~6 frames/s on average, now and then a burst lost."""
    duration = cfg.duration_s * rng.uniform(0.97, 1.05)
    lo, hi = cfg.fps_range
    fps = rng.uniform(lo, min(hi, max(lo, 11.0))) if slow else rng.uniform(max(lo, min(hi, 20.0)), hi)
    dt0, rate = 1.0 / fps, rng.uniform(5.6, 6.3)  # frame interval inside a burst; frames per second overall
    burst = int(rng.integers(8, 13))
    period = burst / rate
    times, start, lost = [], 0.0, False
    while start < duration:
        k = max(2, burst + int(rng.integers(-2, 3)))
        k = min(k, max(2, int((period - 0.05) / dt0)))
        lost = not lost and rng.random() < 0.012  # a lost burst: a gap of two periods (never three)
        if not lost:
            times.append(start + np.cumsum(np.r_[0.0, dt0 * rng.lognormal(0.0, 0.06, size=k - 1)]))
        start += period * rng.lognormal(0.0, 0.04)
    t = np.concatenate(times)
    t = np.unique(np.round(t[t < duration] * 1000)) / 1000
    return t - t[0]


def _keyframes(rng: np.random.Generator, times: np.ndarray, every_s: float) -> np.ndarray:
    step = every_s * rng.uniform(0.92, 1.08)
    want = np.arange(rng.uniform(0.2, step), times[-1], step)
    want = want + rng.uniform(-0.15, 0.15, size=len(want))
    idx = np.clip(np.searchsorted(times, want), 1, len(times) - 1)
    idx = np.where(np.abs(times[idx - 1] - want) < np.abs(times[idx] - want), idx - 1, idx)
    return np.unique(idx)
