"""Data layer: readers turn files into one in-memory type, :class:`ClipDataset`.

Models and training never see a file format, only recordings, samples and windows.
"""

from actline.data.dataset import ClipDataset, Recording, Sample  # noqa: F401
from actline.data.formats import load_dataset  # noqa: F401
from actline.data.window import WindowRule  # noqa: F401
