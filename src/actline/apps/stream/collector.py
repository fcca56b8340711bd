"""Windows worth relabelling, saved as a ThermalDataGen data set that the readers take.

Windows the model is unsure about (top probability below ``collect_below``), or whose prediction
the stream's settled state contradicts a few runs later, are written as ``frames/<id>.h5`` plus
COCO keyframes labelled with the prediction (to be corrected), the reason and the confidence;
``actline data inspect DIR`` reads it. A collection belongs to one class list: adding windows of
a model with other classes would silently relabel the older ones, so that is refused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from actline.core.errors import ActlineError
from actline.core.jsonfile import read_json_object

MAX_ANNOTATION_BYTES = 256 << 20  # a collection of 1000 windows is well under 1 MB


def _read_json(path: Path) -> dict:
    try:
        return read_json_object(path, MAX_ANNOTATION_BYTES, "a collection")
    except ActlineError as exc:  # a file this collector wrote itself: say so
        raise ActlineError(path, f"corrupt collection file: {exc.message}") from None


class FailureCollector:
    """Each window is one short recording with one keyframe at its middle."""

    def __init__(self, root: str | Path, classes: list[str], max_items: int = 1000):
        self.root, self.classes, self.max_items = Path(root), list(classes), max_items
        self.images: list[dict] = []
        self.annotations: list[dict] = []
        ann_dir = self.root / "annotations"
        mapping, ann = ann_dir / "class_mapping.json", ann_dir / "train.json"
        if mapping.is_file():
            self._same_classes(mapping, _read_json(mapping).get("classes"))
        if ann.is_file():  # append to an earlier collection
            old = _read_json(ann)
            images, annotations = old.get("images", []), old.get("annotations", [])
            if not isinstance(images, list) or not isinstance(annotations, list):
                raise ActlineError(ann, "corrupt collection file: 'images' and 'annotations' must be lists")
            cats = old.get("categories")
            if cats is not None:  # its own record of the classes, even if class_mapping.json is gone
                if not isinstance(cats, list) or not all(isinstance(c, dict) for c in cats):
                    raise ActlineError(ann, "corrupt collection file: 'categories' must be a list of objects")
                self._same_classes(ann, [c.get("name") for c in cats])
            self.images, self.annotations = images, annotations

    def _same_classes(self, path: Path, old) -> None:
        if old != self.classes:
            raise ActlineError(path, f"this collection holds classes {old}, the model has {self.classes}: "
                               "collect into another directory")

    def add(self, win: np.ndarray, times, label: str, confidence: float, reason: str) -> None:
        from actline.core.atomic import write_json
        from actline.data.thermal_h5 import write_recording_h5

        if len(self.images) >= self.max_items:
            return
        n = len(win)
        sensor = f"collected{len(self.images):05d}"
        ts = np.asarray(times, dtype=np.float64) if times is not None else np.arange(n) * 0.1
        ts_ms = np.round((ts - ts[0]) * 1000).astype(np.int64) + 1_700_000_000_000
        write_recording_h5(self.root / "frames" / f"{sensor}.h5", win.astype(np.float32), ts_ms, sensor)
        image_id = f"{sensor}_{int(ts_ms[n // 2])}"
        self.images.append({"id": image_id, "sensor_id": sensor, "timestamp": int(ts_ms[n // 2]),
                            "width": int(win.shape[2]), "height": int(win.shape[1]), "frame_idx": n // 2,
                            "actline_reason": reason, "actline_confidence": round(confidence, 4)})
        self.annotations.append({"id": len(self.annotations) + 1, "image_id": image_id, "bbox": [0, 0, 1, 1],
                                 "category_id": self.classes.index(label), "category_name": label})
        cats = [{"id": i, "name": c} for i, c in enumerate(self.classes)]
        write_json(self.root / "annotations" / "class_mapping.json",
                   {"classes": self.classes, "class_to_id": {c: i for i, c in enumerate(self.classes)}})
        write_json(self.root / "annotations" / "train.json",
                   {"info": {"description": "windows collected by actline stream for relabelling"},
                    "images": self.images, "annotations": self.annotations, "categories": cats})

    def __len__(self) -> int:
        return len(self.images)
