"""Backbone features of every chunk of a video or recording, and an on-disk cache of them.

The cache key is a SHA-256 over the input file's content and every parameter that changes the
features (backbone, a digest of its weights, fps, chunk length, stride, size). Entries are
safetensors files written atomically with a checksum of their content, verified on read: a
corrupt entry is recomputed, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np

from actline.core.atomic import atomic_path
from actline.core.errors import ActlineError
from actline.core.hashing import sha256_file
from actline.core.progress import Progress
from actline.data.video import VideoSpec
from actline.features.extract import Encoder, Features, extract


def default_cache_dir() -> Path:
    """Where features are cached unless a directory is given: ``$XDG_CACHE_HOME/actline/features``."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "actline" / "features"


class FeatureCache:
    """Features on disk, keyed by content and parameters; verified on read, written atomically."""

    def __init__(self, root: str | Path | None):
        self.root = Path(root) if root else None
        self.hits = self.misses = self.corrupt = 0

    def key(self, path: Path, encoder: Encoder, spec: VideoSpec) -> str:
        params = {"file_sha256": sha256_file(path), "backbone": encoder.name, "weights": encoder.digest,
                  "kind": encoder.kind, **spec.as_dict()}
        if encoder.window is not None:  # a thermal encoder's windows: its own rule, whatever chunk says
            params.update(window=encoder.window.to_dict(), chunk=None)
        if getattr(encoder, "mean", None) is not None:  # the input normalisation changes the features too
            params.update(mean=[float(v) for v in encoder.mean], std=[float(v) for v in encoder.std])
        if getattr(encoder, "effective_precision", "fp32") != "fp32":  # float32 entries keep their keys
            params.update(precision=encoder.effective_precision)
        return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.safetensors"

    def get(self, path: str | Path, encoder: Encoder, spec: VideoSpec, batch: int = 8,
            progress: Progress | None = None) -> Features:
        from safetensors.numpy import load_file, save_file

        path = Path(path)
        if self.root is None:
            return extract(path, encoder, spec, batch, progress)
        if not path.is_file():
            raise ActlineError(path, "file not found")
        key = self.key(path, encoder, spec)
        entry = self._path(key)
        if entry.is_file():
            try:
                d = load_file(str(entry))
                x, t = d["features"], d["times"]
                if _digest(x, t) != d["checksum"].tobytes().hex():
                    raise ValueError("checksum mismatch")
                self.hits += 1
                return Features(x, t)
            except Exception as exc:  # noqa: BLE001 - any unreadable entry is recomputed, never trusted
                self.corrupt += 1
                warnings.warn(f"{entry}: corrupt feature cache entry ({exc}); recomputing", stacklevel=2)
        self.misses += 1
        feats = extract(path, encoder, spec, batch, progress)
        checksum = np.frombuffer(bytes.fromhex(_digest(feats.x, feats.times)), dtype=np.uint8)
        with atomic_path(entry, suffix=".safetensors") as tmp:
            save_file({"features": feats.x, "times": feats.times, "checksum": checksum}, str(tmp),
                      metadata={"source": str(path), "key": key})
        return feats


def _digest(x: np.ndarray, t: np.ndarray) -> str:
    h = hashlib.sha256(np.ascontiguousarray(x, dtype=np.float32).tobytes())
    h.update(np.ascontiguousarray(t, dtype=np.float64).tobytes())
    return h.hexdigest()


# ----------------------------------------------------------------------------- filling the cache
def _fill(files: list[Path], encoder: Encoder, spec: VideoSpec, cache_root: Path,
          progress: Progress | None = None) -> tuple[int, int, int, int]:
    cache, n = FeatureCache(cache_root), 0
    for i, f in enumerate(files, start=1):
        n += len(cache.get(f, encoder, spec))
        if progress:
            progress("files", i, len(files))
    return n, cache.hits, cache.misses, cache.corrupt


def _backbone_on(name: str, weights: str | None, device: str, threads: int, precision: str = "fp32"):
    from actline.features.backbone import build_backbone
    from actline.modeldir.reader import torch_runtime

    backbone = build_backbone(name, weights, precision=precision)
    backbone.model.to(torch_runtime(device, threads, "--device"))
    return backbone


def _extract_shard(args) -> tuple[int, int, int, int]:
    """One worker process: its own backbone and thread count, the shared cache."""
    files, name, weights, spec, cache_root, device, threads, precision = args
    return _fill(files, _backbone_on(name, weights, device, threads, precision), spec, cache_root)


def extract_many(inputs: list[Path], name: str, weights: str | None, spec: VideoSpec, cache_root: Path | None = None,
                 workers: int = 1, progress: Progress | None = None, device: str = "cpu", threads: int = 0,
                 precision: str = "fp32") -> dict:
    """Fill the cache for ``inputs`` (files, or directories of the videos or recordings the backbone reads):
    split round-robin over ``workers`` processes (or over the ranks of ``torchrun``), one shared cache,
    each file computed by exactly one worker; the backbone runs on ``device`` (``auto``: a GPU when there
    is one) with ``threads`` CPU threads (0: torch's default, or the cores shared out between workers), in
    ``precision`` (:mod:`actline.features.backbone`)."""
    from actline.core.distributed import rank_and_world
    from actline.data.formats import find_inputs

    backbone = _backbone_on(name, weights, device, threads if workers <= 1 else 0, precision)
    root = Path(cache_root or default_cache_dir())
    rank, world = rank_and_world()
    files = find_inputs(inputs, backbone.kind)[rank::world]  # under torchrun this process is one worker of world
    if workers <= 1:
        out = _fill(files, backbone, spec, root, progress)
    else:
        import multiprocessing as mproc

        threads = threads or max(1, (os.cpu_count() or 1) // workers)
        shards = [(files[w::workers], name, weights, spec, root, device, threads, precision) for w in range(workers)]
        with mproc.get_context("spawn").Pool(workers) as pool:
            parts = pool.map(_extract_shard, shards)
        out = tuple(sum(p[i] for p in parts) for i in range(4))
    return {"files": len(files), "chunks": out[0], "hits": out[1], "misses": out[2], "corrupt": out[3],
            "dim": backbone.dim, "root": str(root)}
