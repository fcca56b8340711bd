"""actline: action recognizers and action timelines from small, domain-specific recordings.

``actline.load(path)`` opens any model actline writes (see :mod:`actline.infer.loader`).
"""

__version__ = "0.5.0"


def load(path, device: str = "cpu", backend: str | None = None, threads: int = 0):
    """Open the model at ``path``: a Recognizer for clip classifiers, a timeline pipeline for timeline models."""
    from actline.infer.loader import load as _load

    return _load(path, device=device, backend=backend, threads=threads)
