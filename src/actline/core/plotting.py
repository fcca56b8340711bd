"""Matplotlib without a display, and figures saved atomically."""

from __future__ import annotations

from pathlib import Path


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | Path, dpi: int = 90) -> Path:
    from actline.core.atomic import atomic_path

    plt = pyplot()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    plt.close(fig)
    return Path(path)


def palette(labels: list[str]) -> dict[str, tuple[int, int, int]]:
    """A stable colour per label (matplotlib's tab20, cycled), as 0-255 RGB."""
    from matplotlib import colormaps

    cmap = colormaps["tab20"]
    return {lab: tuple(int(255 * c) for c in cmap(i % 20)[:3]) for i, lab in enumerate(sorted(set(labels)))}
