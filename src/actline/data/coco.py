"""The annotations of a ThermalDataGen data set: ``class_mapping.json`` and COCO-style keyframe files.

Each image of a COCO file is a keyframe (``id``, ``sensor_id``, ``frame_idx``); its label is the most
frequent ``category_id`` among its person boxes, ties going to the smallest id (:func:`keyframe_label`).
Every entry is checked, and a bad one named in a one-line :class:`~actline.core.errors.ActlineError`.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

from actline.core.atomic import write_text
from actline.core.errors import ActlineError
from actline.core.jsonfile import read_json_object

WHOLE_FRAME = [0.5, 0.5, 1.0, 1.0]  # a box over the whole frame: the keyframe of a segment, which names no person


def keyframe_label(category_ids: list[int]) -> int:
    """Most frequent id; ties go to the smallest id (the earlier system's rule)."""
    counts = Counter(category_ids)
    best = max(counts.values())
    return min(c for c, n in counts.items() if n == best)


def read_class_mapping(path: Path) -> tuple[list[str], dict[str, int]]:
    obj = read_json_object(path)
    classes = obj.get("classes")
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
        raise ActlineError(path, "'classes' must be a non-empty list of class names")
    if len(set(classes)) != len(classes):
        dup = [c for c, n in Counter(classes).items() if n > 1]
        raise ActlineError(path, f"duplicate class names: {dup}")
    class_to_id = obj.get("class_to_id", {c: i for i, c in enumerate(classes)})
    if not isinstance(class_to_id, dict) or set(class_to_id) != set(classes):
        raise ActlineError(path, "'class_to_id' must name exactly the classes in 'classes'")
    if not all(isinstance(v, int) for v in class_to_id.values()) or len(set(class_to_id.values())) != len(classes):
        raise ActlineError(path, "'class_to_id' must map each class to a distinct integer id")
    return classes, class_to_id


def _scalar_id(v) -> bool:
    return isinstance(v, (str, int)) and not isinstance(v, bool)


def _categories(path: Path, obj: dict, classes: list[str]) -> dict:
    """category id -> class name, from the file's own ``categories``."""
    cat_names = {}
    for cat in obj.get("categories", []):
        if not isinstance(cat, dict) or not _scalar_id(cat.get("id")) or not isinstance(cat.get("name"), str):
            raise ActlineError(path, f"malformed category entry {str(cat)[:80]} (needs an integer or string id and a name)")
        if cat["name"] not in classes:
            raise ActlineError(path, f"category {cat['id']} has unknown class name {cat['name']!r}")
        cat_names[cat["id"]] = cat["name"]
    return cat_names


def _images(path: Path, obj: dict) -> dict:
    """image id -> image entry, each with a scalar id and sensor_id and an integer frame_idx."""
    images = {}
    for i, img in enumerate(obj["images"]):
        if not isinstance(img, dict):
            raise ActlineError(path, f"images[{i}] is not an object")
        for key in ("id", "sensor_id", "frame_idx"):
            if key not in img:
                raise ActlineError(path, f"images[{i}] has no '{key}'")
        for key in ("id", "sensor_id"):
            if not _scalar_id(img[key]):
                raise ActlineError(path, f"images[{i}] {key} must be a string or an integer, got {str(img[key])[:40]}")
        if not isinstance(img["frame_idx"], int) or isinstance(img["frame_idx"], bool):
            raise ActlineError(path, f"images[{i}] frame_idx must be an integer, got {img['frame_idx']!r}")
        images[img["id"]] = img
    return images


def _annotation_class(path: Path, i: int, ann, images: dict, cat_names: dict, id_to_class: dict[int, int],
                      classes: list[str]) -> int:
    """The class index of ``annotations[i]``, checked against its image, category and category_name."""
    if not isinstance(ann, dict) or "image_id" not in ann or "category_id" not in ann:
        raise ActlineError(path, f"annotations[{i}] needs 'image_id' and 'category_id'")
    if not _scalar_id(ann["image_id"]) or not _scalar_id(ann["category_id"]):
        raise ActlineError(path, f"annotations[{i}] image_id and category_id must be strings or integers")
    if ann["image_id"] not in images:
        raise ActlineError(path, f"annotations[{i}] (id {ann.get('id')}) points to image {ann['image_id']!r}, "
                           "which is not in 'images'")
    cid = ann["category_id"]
    name = ann.get("category_name")
    if name is not None and name not in classes:
        raise ActlineError(path, f"annotations[{i}] has unknown class name {name!r}")
    if cid in cat_names:
        cls = classes.index(cat_names[cid])
    elif cid in id_to_class:
        cls = id_to_class[cid]
    else:
        raise ActlineError(path, f"annotations[{i}] has category_id {cid!r}, which no category or class has")
    if name is not None and classes[cls] != name:
        raise ActlineError(path, f"annotations[{i}] category_id {cid} is {classes[cls]!r} but category_name says {name!r}")
    return cls


def read_coco(path: Path, id_to_class: dict[int, int], classes: list[str]):
    """Yield (image_id, sensor_id, frame_idx, class index) for each image with at least one box."""
    obj = read_json_object(path)
    for key in ("images", "annotations"):
        if not isinstance(obj.get(key), list):
            raise ActlineError(path, f"'{key}' must be a list")
    cat_names = _categories(path, obj, classes)
    images = _images(path, obj)
    labels_of: dict[object, list[int]] = defaultdict(list)
    for i, ann in enumerate(obj["annotations"]):
        cls = _annotation_class(path, i, ann, images, cat_names, id_to_class, classes)
        labels_of[ann["image_id"]].append(cls)
    for image_id, labels in labels_of.items():
        img = images[image_id]
        yield str(image_id), str(img["sensor_id"]), int(img["frame_idx"]), keyframe_label(labels)


# ------------------------------------------------------------------ writing (the synthetic generator and labelled data sets)
def image_entry(sensor_id: str, ts_ms: int, idx: int, h: int, w: int, mac: str = "", image_id: str | None = None) -> dict:
    """One keyframe (COCO image): ``id``, ``sensor_id`` (the recording) and ``frame_idx``, which the reader needs."""
    return {"id": image_id or f"{sensor_id}_{ts_ms}", "sensor_id": sensor_id, "mac_address": mac, "timestamp": ts_ms,
            "width": w, "height": h, "frame_idx": idx}


def annotation_entry(n: int, image_id: str, bbox: list[float], label: str, category_id: int, obj_id: int,
                     obscured: str | None = "0%") -> dict:
    """One box of a keyframe; ``bbox`` is ``[centre x, centre y, width, height]`` normalised to 0-1."""
    ann = {"id": n, "image_id": image_id, "bbox": bbox, "category_id": category_id, "category_name": label,
           "object_id": obj_id}
    if obscured is not None:
        ann["attribute_obscured"] = obscured
    return ann


def class_ids(classes: list[str], class_to_id: dict[str, int] | None = None) -> dict[str, int]:
    return dict(class_to_id) if class_to_id is not None else {c: i for i, c in enumerate(classes)}


def write_coco(path: Path, images: list[dict], annotations: list[dict], classes: list[str], info: dict,
               class_to_id: dict[str, int] | None = None) -> Path:
    """A COCO keyframe file (atomically): ``info``, ``images``, ``annotations`` and one category per class."""
    ids = class_ids(classes, class_to_id)
    categories = [{"id": ids[c], "name": c} for c in classes]
    return write_text(path, json.dumps({"info": info, "images": images, "annotations": annotations,
                                        "categories": categories}, indent=1))


def write_class_mapping(path: Path, classes: list[str], class_to_id: dict[str, int] | None = None) -> Path:
    return write_text(path, json.dumps({"classes": list(classes), "class_to_id": class_ids(classes, class_to_id)},
                                       indent=2))
