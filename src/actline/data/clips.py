"""Clip data sets in the layout ``root/<fine_label>/*.mp4``, and the label rule that reads folder names.

``mount_o_ring_to_pipe_va`` → coarse family ``mount`` (the first token: the "FirstWord" strategy),
fine label ``mount_o_ring_to_pipe_va`` (the normalised full name), value category ``VA`` (from the
suffix ``_va``; ``_rnva`` → RNVA, ``_nva`` → NVA; none otherwise, with a warning).
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from actline.core.errors import ActlineError
from actline.data.video import VIDEO_SUFFIXES

VALUE_CATEGORIES = ("VA", "RNVA", "NVA")  # value added, required non-value added, non-value added
VALUE_SUFFIXES = {c.lower(): c for c in VALUE_CATEGORIES}  # the folder-name suffix of each


@dataclass(frozen=True)
class LabelRule:
    separator: str = "_"
    coarse_token: int = 0  # which token names the family (0: the first word; -2: the one before the suffix)

    def as_dict(self) -> dict:
        return {"separator": self.separator, "coarse_token": self.coarse_token}


@dataclass(frozen=True)
class ParsedLabel:
    fine: str
    coarse: str
    value_category: str | None


def normalise(name: str, sep: str = "_") -> str:
    """Lower case, runs of spaces/dashes/separators collapsed to one separator, no edge separators."""
    s = re.sub(r"[\s\-]+", sep, name.strip().lower())
    s = re.sub(re.escape(sep) + "+", sep, s)
    return s.strip(sep)


def parse_label(name: str, rule: LabelRule = LabelRule(), where=None) -> ParsedLabel:
    fine = normalise(name, rule.separator)
    if not fine:
        raise ActlineError(where, f"empty label {name!r}")
    tokens = fine.split(rule.separator)
    value = VALUE_SUFFIXES.get(tokens[-1]) if len(tokens) > 1 else None
    words = tokens[:-1] if value else tokens
    try:
        coarse = words[rule.coarse_token]
    except IndexError:
        raise ActlineError(where, f"label {name!r} has no token {rule.coarse_token} "
                                  f"(separator {rule.separator!r})") from None
    return ParsedLabel(fine, coarse, value)


@dataclass(frozen=True)
class Clip:
    path: Path
    label: ParsedLabel


def find_clips(root: str | Path, rule: LabelRule = LabelRule(), log=None) -> list[Clip]:
    """Every video under ``root/<label>/``; warns once per label without a value suffix."""
    root = Path(root)
    if not root.is_dir():
        raise ActlineError(root, "clip folder not found")
    clips = []
    for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(f for f in d.iterdir() if f.suffix.lower() in VIDEO_SUFFIXES and f.is_file())
        if not files:
            continue
        label = parse_label(d.name, rule, where=d)
        if label.value_category is None:
            msg = (f"{d}: label {d.name!r} has no value suffix (_va, _rnva or _nva); "
                   "its time counts as 'none' in value-stream analytics")
            (log or (lambda m: warnings.warn(m, stacklevel=2)))(msg)
        clips += [Clip(f, label) for f in files]
    if not clips:
        raise ActlineError(root, f"no clips found (expected root/<label>/*.{{{','.join(s[1:] for s in VIDEO_SUFFIXES)}}})")
    return clips


def label_summary(clips: list[Clip]) -> dict:
    fine = Counter(c.label.fine for c in clips)
    coarse = Counter(c.label.coarse for c in clips)
    fam = {}
    for c in clips:
        fam.setdefault(c.label.coarse, set()).add(c.label.fine)
    return {"clips": len(clips), "fine": dict(sorted(fine.items())), "coarse": dict(sorted(coarse.items())),
            "families": {k: sorted(v) for k, v in sorted(fam.items())}}
