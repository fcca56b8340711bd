"""``actline export MODEL --format onnx``: models for ONNX Runtime at the edge, checked before success.

A clip classifier becomes one ``.onnx`` file whose output is class probabilities, with a dynamic
batch axis, and whose metadata (``actline_config``) holds the classes, window rule and
preprocessing, so ``Recognizer.load(path, backend="onnx")`` needs nothing else; exported outside its
model directory it gets ``<file>.sha256`` beside it, which every load verifies. A timeline model
becomes a directory: ``backbone.onnx`` (chunk → feature), ``stage1.onnx`` (``[B, T, D]`` → per-step
probabilities, dynamic batch and time), ``stage2/<family>.onnx`` and ``config.json`` + the registry.

Every file is verified against PyTorch on real-shaped input before it is written (largest absolute
difference of the probabilities at most ``atol``, 1e-4 by default); a failed check writes nothing.
"""

from __future__ import annotations

import json
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from actline.core.atomic import atomic_dir, atomic_path, write_json
from actline.core.errors import ActlineError
from actline.core.hashing import sha256_file
from actline.modeldir import parts
from actline.modeldir.directory import (
    CONFIG,
    ONNX,
    WEIGHTS,
    add_file,
    read_config,
    verify,
    write_checksums,
    write_sidecar,
)
from actline.modeldir.parts import companion
from actline.modeldir.reader import build_torch, load_model_dir

OPSET = 17


class _Softmax(nn.Module):
    def __init__(self, model: nn.Module, dim: int = -1):
        super().__init__()
        self.model, self.dim = model, dim

    def forward(self, x):
        return torch.softmax(self.model(x), dim=self.dim)


class _Features(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model.features(x)


def thermal_example(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Real-shaped thermal input: a room at 20-24 °C with a warm body of a few pixels, sensor noise."""
    rng = np.random.default_rng(seed)
    b, c, t, h, w = shape
    x = rng.normal(0, 0.15, shape) + rng.uniform(20, 24, (b, 1, 1, 1, 1))
    yy, xx = np.mgrid[0:h, 0:w]
    for i in range(b):
        cy, cx = rng.uniform(0.2, 0.8) * h, rng.uniform(0.2, 0.8) * w
        body = 8.0 * np.exp(-(((yy - cy) / (0.12 * h)) ** 2 + ((xx - cx) / (0.1 * w)) ** 2))
        x[i] += body[None, None]
    return x.astype(np.float32)


def _export(module: nn.Module, example: np.ndarray, path: Path, dynamic: dict, meta: dict, atol: float) -> float:
    """Export ``module`` to ``path`` atomically, after checking ONNX Runtime against PyTorch."""
    import onnx
    import onnxruntime as ort

    module = module.eval()
    x = torch.from_numpy(example)
    with atomic_path(path, suffix=".onnx") as tmp, warnings.catch_warnings():
        # the TorchScript exporter is deprecated but needs no onnxscript; its parity is checked below
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # shape tests are constant for a given input shape
        torch.onnx.export(module, (x,), str(tmp), input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": dynamic, "output": {k: v for k, v in dynamic.items() if k <= 1}},
                          opset_version=OPSET, dynamo=False)
        proto = onnx.load(str(tmp))
        for k, v in meta.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = k, v
        onnx.checker.check_model(proto)
        onnx.save(proto, str(tmp))
        sess = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        with torch.no_grad():
            want = module(x).numpy()
        got = sess.run(None, {"input": example})[0]
        diff = float(np.abs(got - want).max())
        if not diff <= atol:
            raise ActlineError(path, f"ONNX Runtime disagrees with PyTorch by {diff:.2e} (> {atol:g}); nothing written")
    return diff


@dataclass
class ExportJob:
    """What a composite part (:mod:`actline.modeldir.parts`) needs to put its files beside a CNN's export:
    into the model directory itself (``inside``, checksummed with it), or beside an outside ``.onnx`` as
    ``<stem>.<name>`` with a sidecar checksum each."""

    model_dir: Path
    config: dict
    out: Path
    inside: bool
    example: np.ndarray
    atol: float
    meta: dict  # the main export's metadata config, which a part's own export shares (classes, window, ...)
    written: list[Path] = field(default_factory=list)
    diffs: dict = field(default_factory=dict)

    def copy(self, name: str) -> None:
        """A part that travels as it is (trees, rooms): verified, then copied beside an outside export."""
        if self.inside:
            return
        target = companion(self.out, name)
        with atomic_path(target, suffix=Path(name).suffix) as tmp:
            shutil.copyfile(verify(self.model_dir, name), tmp)
        self.written += [target, write_sidecar(target)]

    def export_torch(self, weights: str, arch: dict, name: str, role: str) -> None:
        """A part that is a torch network (``weights``, built from ``arch``): exported and checked like the main one."""
        module = _Softmax(build_torch(verify(self.model_dir, weights), arch, self.model_dir / CONFIG), dim=1)
        meta = {k: self.meta[k] for k in ("pipeline", "classes", "window", "preprocessing", "input", "output")}
        write = self.writer(module, {**meta, "arch": arch, "role": role}, name)
        if self.inside:
            add_file(self.model_dir, name, write)
            return
        target = companion(self.out, name)
        with atomic_path(target, suffix=".onnx") as tmp:
            write(tmp)
        self.written += [target, write_sidecar(target)]

    def writer(self, module, meta: dict, name: str):
        def write(p: Path) -> None:
            self.diffs[name] = _export(module, self.example, p, {0: "batch"}, {
                "actline_config": json.dumps(meta), "classes": json.dumps(self.config["classes"])}, self.atol)
        return write


def export_classifier(model_dir: Path, out: Path, atol: float = 1e-4, batch: int = 2) -> dict:
    cfg = read_config(model_dir)
    if not (model_dir / WEIGHTS).is_file() and (model_dir / ONNX).is_file():  # a tree model is ONNX already
        verify(model_dir, ONNX)
        if out.resolve() != (model_dir / ONNX).resolve():
            with atomic_path(out, suffix=".onnx") as tmp:
                shutil.copyfile(model_dir / ONNX, tmp)
            write_sidecar(out)  # travels without checksums.json: verified on load by its own checksum
        return {"path": str(out), "max_abs_diff": 0.0, "input_shape": None, "note": "already ONNX (tree model)"}
    model, cfg = load_model_dir(model_dir, pipeline="clip-classifier")
    shape = cfg.get("preprocessing", {}).get("frame_shape")
    if not shape:
        raise ActlineError(model_dir, "config.json has no preprocessing.frame_shape; cannot build the example input")
    example = thermal_example((batch, 1, int(cfg["window"]["length"]), *shape))
    meta = {k: cfg[k] for k in ("pipeline", "classes", "window", "preprocessing", "metrics", "arch",
                                *parts.config_keys(cfg)) if k in cfg}
    meta["input"] = "[batch, 1, T, H, W] float32 °C, sentinels filled (actline.data.window.fill_invalid)"
    meta["output"] = "[batch, K] class probabilities"
    job = ExportJob(model_dir, cfg, out, out.resolve().parent == model_dir.resolve(), example, atol, meta)
    try:  # the parts first: an outside export's metadata ties it to them by their checksums
        for part in parts.active(cfg):
            if part.export is not None:
                part.export(job)
        if job.inside:
            add_file(model_dir, out.name, job.writer(_Softmax(model, dim=1), meta, "model"))
        else:
            meta["companions"] = {name: sha256_file(companion(out, name)) for name in parts.part_files(cfg, "onnx")}
            job.writer(_Softmax(model, dim=1), meta, "model")(out)
            write_sidecar(out)
    except BaseException:
        for p in job.written:
            p.unlink(missing_ok=True)
        raise
    extra = {f"{Path(n).stem}_max_abs_diff": d for n, d in job.diffs.items() if n != "model"}
    return {"path": str(out), "max_abs_diff": max(job.diffs.values()), "input_shape": list(example.shape), **extra}


def export_timeline(model_dir: Path, out: Path, atol: float = 1e-4) -> dict:
    """``backbone.onnx``, ``stage1.onnx``, ``stage2/<family>.onnx``, the registry and ``config.json`` (the
    model's, with everything the backbone's input needs under ``features``: kind, background, mean, std)."""
    from actline.infer.timeline_pipeline import TimelinePipeline

    pipe = TimelinePipeline.load(model_dir, backend="torch")
    torch_backend, spec, bb = pipe.backend, pipe.spec, pipe.backend.backbone
    if bb.kind == "rgb":
        example = np.random.default_rng(0).normal(0, 1, (2, 3, spec.chunk, spec.size, spec.size)).astype(np.float32)
    else:
        example = thermal_example((2, 1, spec.chunk, *(bb.frame_shape or (16, 16))))
    report = {}
    with atomic_dir(out, overwrite=True) as tmp:
        report["backbone"] = _export(_Features(bb.model), example, tmp / "backbone.onnx", {0: "batch"},
                                     {"actline_role": "backbone"}, atol)
        feats = np.random.default_rng(1).normal(0, 1, (2, 40, bb.dim)).astype(np.float32)
        report["stage1"] = _export(_Softmax(torch_backend.stage1_model), feats, tmp / "stage1.onnx",
                                   {0: "batch", 1: "time"}, {"actline_role": "stage1"}, atol)
        for fam, m in torch_backend.stage2_models.items():
            report[f"stage2/{fam}"] = _export(_Softmax(m), feats, tmp / "stage2" / f"{fam}.onnx",
                                              {0: "batch", 1: "time"}, {"actline_role": f"stage2/{fam}"}, atol)
        write_json(tmp / "stage2_registry.json", pipe.registry)
        write_json(tmp / "config.json", {**pipe.cfg, "features": {**pipe.cfg["features"], **bb.config()},
                                         "onnx": {"opset": OPSET, "max_abs_diff": report,
                                                  "backbone_input": "rgb: [B, 3, T, H, W] normalised with features "
                                                  "mean/std" if bb.kind == "rgb" else "[B, 1, T, H, W] °C"}})
        write_checksums(tmp)  # every file above, verified on every load
    return {"path": str(out), "max_abs_diff": max(report.values()), "files": sorted(report)}


def export_model(model_dir: str | Path, out: str | Path | None = None, atol: float = 1e-4) -> dict:
    model_dir = Path(model_dir)
    cfg = read_config(model_dir)
    pipeline = cfg.get("pipeline")
    if pipeline == "clip-classifier":
        return export_classifier(model_dir, Path(out) if out else model_dir / "model.onnx", atol)
    if pipeline == "timeline":
        return export_timeline(model_dir, Path(out) if out else model_dir / "onnx", atol)
    raise ActlineError(model_dir, f"cannot export a {pipeline!r} model (clip-classifier or timeline)")
