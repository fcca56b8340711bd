"""Timelines with ONNX Runtime alone: the exported directory of ``actline export TIMELINE_MODEL``.

Same chunks, same decoding and same segments as :class:`~actline.infer.timeline.TimelineModel`,
but the backbone, stage 1 and stage 2 run as ONNX sessions, so an edge device needs neither torch
nor torchvision (a test checks that none is imported).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from actline.core.errors import ActlineError
from actline.data.chunks import (
    is_thermal_input,
    read_thermal_recording,
    recording_chunks,
)
from actline.data.segments import Segment
from actline.data.video import VideoSpec, prefetch, video_chunks
from actline.infer.decoding import Decoding, decode, runs, step_bounds

KINETICS_MEAN = np.array((0.43216, 0.394666, 0.37645), np.float32)  # as actline.features (torch-free copy)
KINETICS_STD = np.array((0.22803, 0.22145, 0.216989), np.float32)


def _session(path: Path, threads: int = 0):
    import onnxruntime as ort

    if not path.is_file():
        raise ActlineError(path, "missing from the exported timeline model")
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - an unreadable file is the user's input error
        raise ActlineError(path, f"cannot load ONNX model ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None


class OnnxTimeline:
    def __init__(self, path: str | Path, threads: int = 0):
        self.path = path = Path(path)
        try:
            self.cfg = json.loads((path / "config.json").read_text(encoding="utf-8"))
            self.registry = json.loads((path / "stage2_registry.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ActlineError(path, f"not an exported timeline model ({exc})") from None
        if self.cfg.get("pipeline") != "timeline" or "onnx" not in self.cfg:
            raise ActlineError(path, "not an exported timeline model (run `actline export MODEL --format onnx`)")
        f = self.cfg["features"]
        self.kind = f["kind"]
        self.spec = VideoSpec(f["fps"], f["size"], f["chunk"], f["stride"])
        self.classes: list[str] = self.cfg["classes"]
        self.fine_to_value: dict = self.cfg.get("fine_to_value", {})
        self.decoding = Decoding(**self.cfg.get("decoding", {}))
        self.background = self.cfg.get("onnx", {}).get("background", "none")
        self.backbone = _session(path / "backbone.onnx", threads)
        self.stage1 = _session(path / "stage1.onnx", threads)
        self.stage2 = {fam: _session(path / "stage2" / f"{fam}.onnx", threads)
                       for fam, e in self.registry.items() if e.get("model")}

    @staticmethod
    def is_export(path: Path) -> bool:
        return (path / "backbone.onnx").is_file() and (path / "stage1.onnx").is_file()

    def _input(self, chunks: np.ndarray) -> np.ndarray:
        if self.kind == "rgb":
            x = (chunks.astype(np.float32) / 255.0 - KINETICS_MEAN) / KINETICS_STD  # [N, T, H, W, C]
            return np.ascontiguousarray(x.transpose(0, 4, 1, 2, 3))
        return np.ascontiguousarray(chunks, dtype=np.float32)[:, None]

    def features(self, source: str | Path, batch: int = 8) -> tuple[np.ndarray, np.ndarray]:
        source = Path(source)
        if self.kind == "thermal":
            chunks = recording_chunks(read_thermal_recording(source), self.spec.chunk, self.spec.stride,
                                      self.background)
        else:
            if is_thermal_input(source):
                raise ActlineError(source, "this timeline model reads videos, not thermal recordings")
            chunks = video_chunks(source, self.spec)
        xs, times, group = [], [], []
        name = self.backbone.get_inputs()[0].name

        def flush():
            xs.append(self.backbone.run(None, {name: self._input(np.stack([c for _, _, c in group]))})[0])
            times.extend((a, b) for a, b, _ in group)
            group.clear()

        for item in prefetch(chunks, depth=2 * batch):
            group.append(item)
            if len(group) == batch:
                flush()
        if group:
            flush()
        return np.concatenate(xs).astype(np.float32), np.asarray(times, np.float64).reshape(-1, 2)

    def _probs(self, sess, x: np.ndarray) -> np.ndarray:
        return sess.run(None, {sess.get_inputs()[0].name: x[None].astype(np.float32)})[0][0]

    def timeline(self, source: str | Path, decoding: Decoding | None = None) -> list[Segment]:
        x, times = self.features(source)
        if not len(x):
            return []
        prob = self._probs(self.stage1, x)
        labels = decode(prob, times, decoding or self.decoding)
        bounds = step_bounds(times)
        segs = []
        for s, e, k in runs(labels):
            fam = self.classes[k]
            entry = self.registry[fam]
            if entry.get("direct"):
                fine, fine_conf = entry["direct"], 1.0
            else:
                p = self._probs(self.stage2[fam], x[s:e]).mean(0)
                fine, fine_conf = entry["fine_labels"][int(p.argmax())], float(p.max())
            conf = float(prob[s:e, k].mean()) * fine_conf
            segs.append(Segment(float(bounds[s]), float(bounds[e]), fam, fine, self.fine_to_value.get(fine), round(conf, 4)))
        return segs
