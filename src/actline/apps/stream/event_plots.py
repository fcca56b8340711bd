"""A timeline picture of one replayed recording: annotation, streamed states, alerts (model and baseline)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from actline.core.plotting import palette, pyplot, save_figure
from actline.metrics.events import runs


def _state_spans(events, end: float) -> list[tuple[float, float, str]]:
    spans, cur, since = [], None, 0.0
    for e in events:
        if e.kind in ("state", "reset"):
            if cur is not None:
                spans.append((since, e.t, cur))
            cur, since = (e.label if e.kind == "state" else None), e.t
    if cur is not None:
        spans.append((since, end, cur))
    return spans


def plot_timeline(path: str | Path, rec_id: str, t: np.ndarray, labels: np.ndarray, events, baseline,
                  classes: list[str], kinds: list[str]) -> Path:
    plt = pyplot()
    extra = sorted({e.label for e in events if e.kind == "state" and e.label and e.label not in classes})
    colours = {k: tuple(c / 255 for c in v) for k, v in palette(classes + extra).items()}
    fig, ax = plt.subplots(figsize=(11, 2.8))
    rows = {"annotation": 2.0, "stream state": 1.0}
    for i, c in enumerate(classes):
        for a, b in runs(labels, t, i):
            ax.barh(rows["annotation"], max(b - a, 0.1), left=a, height=0.6, color=colours[c])
    for a, b, c in _state_spans(events, float(t[-1])):
        ax.barh(rows["stream state"], max(b - a, 0.1), left=a, height=0.6, color=colours.get(c, (0.5, 0.5, 0.5)))
    alerts = [e.t for e in events if e.kind == "alert"]
    ax.scatter(alerts, [0.2] * len(alerts), marker="v", s=80, color="crimson", label="alert (model)", zorder=3)
    ax.scatter(baseline, [-0.2] * len(baseline), marker="v", s=60, color="0.4", label="alert (baseline)", zorder=3)
    ax.set_yticks([2.0, 1.0, 0.0], ["annotation", "stream state", "alerts"])
    ax.set_ylim(-0.6, 2.5)
    ax.set_xlim(0, float(t[-1]))
    ax.set_xlabel("seconds")
    ax.set_title(f"{rec_id}: annotated events ({', '.join(kinds)}), streamed states and alerts", fontsize=10)
    seen = sorted(set(classes[i] for i in np.unique(labels) if i >= 0) | {c for *_, c in _state_spans(events, 0)})
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours[c]) for c in seen if c in colours]
    leg = ax.legend(handles, [c for c in seen if c in colours], ncol=min(len(handles), 8), fontsize=7,
                    loc="upper center", bbox_to_anchor=(0.5, -0.28), frameon=False)
    ax.add_artist(leg)
    ax.legend(loc="lower right", fontsize=7, frameon=False)
    fig.tight_layout()
    return save_figure(fig, path)
