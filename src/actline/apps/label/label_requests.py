"""The label page's request bodies, checked field by field before anything is done (one-line 400s)."""

from __future__ import annotations

import math

from fastapi import HTTPException

from actline.data.labels import LabelledSegment

MAX_TEXT = 200  # characters in a class name, a recording name or a person's name
MAX_SEGMENTS = 100_000  # in one save
MAX_CLASSES = 1000


def _bad(message: str) -> HTTPException:
    return HTTPException(400, message)


def _text(v, what: str) -> str:
    if not isinstance(v, str) or not v.strip() or len(v) > MAX_TEXT or any(c in v for c in "\r\n\0"):
        raise _bad(f"{what} must be 1 to {MAX_TEXT} characters on one line")
    return v.strip()


def _seconds(v, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise _bad(f"{what} must be a finite number of seconds")
    return float(v)


def parse_save(body) -> tuple[str, dict[str, list[LabelledSegment]], list[str]]:
    """``{"version": str, "segments": {recording: [[start_s, end_s, label], ...]}, "classes": [str, ...]}``."""
    if not isinstance(body, dict) or set(body) - {"version", "segments", "classes"}:
        raise _bad("expected {\"version\", \"segments\", \"classes\"}")
    version = body.get("version")
    if not isinstance(version, str) or not 0 < len(version) <= 128:
        raise _bad("'version' must be the version the page loaded")
    segs = body.get("segments")
    if not isinstance(segs, dict) or not segs:
        raise _bad("'segments' must map at least one recording to its segments")
    classes = body.get("classes", [])
    if not isinstance(classes, list) or len(classes) > MAX_CLASSES:
        raise _bad(f"'classes' must be a list of at most {MAX_CLASSES} class names")
    classes = [_text(c, "a class name") for c in classes]
    out, total = {}, 0
    for rec, rows in segs.items():
        _text(rec, "a recording name")
        if not isinstance(rows, list):
            raise _bad(f"segments of {rec[:80]!r} must be a list of [start_s, end_s, label]")
        total += len(rows)
        if total > MAX_SEGMENTS:
            raise _bad(f"more than {MAX_SEGMENTS} segments in one save")
        out[rec] = [_segment(rec, row, k) for k, row in enumerate(rows)]
    return version, out, classes


def _segment(rec: str, row, k: int) -> LabelledSegment:
    where = f"segment {k + 1} of {rec[:80]!r}"
    if not isinstance(row, list) or len(row) != 3:
        raise _bad(f"{where} must be [start_s, end_s, label]")
    return LabelledSegment(rec, _seconds(row[0], f"{where}: start_s"), _seconds(row[1], f"{where}: end_s"),
                           _text(row[2], f"{where}: the label"))


def parse_answer(body, default_who: str) -> tuple[str, str]:
    """``{"label": str, "who": str (optional)}``."""
    if not isinstance(body, dict) or set(body) - {"label", "who"}:
        raise _bad("expected {\"label\", \"who\"}")
    who = body.get("who") or default_who
    return _text(body.get("label"), "'label'"), _text(who, "'who'")


def segment_rows(segments: list[LabelledSegment]) -> list[list]:
    return [[s.start_s, s.end_s, s.label] for s in sorted(segments, key=lambda s: (s.start_s, s.end_s))]
