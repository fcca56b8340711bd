"""Backbone features of every chunk of a video or recording, and an on-disk cache of them.

The cache key is a SHA-256 over the input file's content and every parameter that changes the
features (backbone, a digest of its weights, fps, chunk length, stride, size). Entries are
safetensors files written atomically with a checksum of their content, verified on read: a
corrupt entry is recomputed, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
import torch

from actline.core.atomic import atomic_path
from actline.core.errors import ActlineError
from actline.data.chunks import (
    is_thermal_input,
    read_thermal_recording,
    recording_chunks,
)
from actline.data.dataset import Recording
from actline.data.video import VideoSpec, prefetch, video_chunks
from actline.features.backbone import Backbone, build_backbone


@dataclass
class Features:
    x: np.ndarray  # [N, D] float32
    times: np.ndarray  # [N, 2] chunk start and end in s

    def __len__(self) -> int:
        return len(self.x)


def _batched(it: Iterable, n: int):
    batch = []
    for item in it:
        batch.append(item)
        if len(batch) == n:
            yield batch
            batch = []
    if batch:
        yield batch


def extract(source: str | Path | Recording, backbone: Backbone, spec: VideoSpec, batch: int = 8,
            progress=None) -> Features:
    """Features of every chunk of a video or thermal recording; decoding runs ahead in a worker thread."""
    if isinstance(source, Recording) or backbone.kind == "thermal":
        rec = source if isinstance(source, Recording) else read_thermal_recording(Path(source))
        chunks = recording_chunks(rec, spec.chunk, spec.stride, backbone.background)
    else:
        if is_thermal_input(Path(source)):
            raise ActlineError(source, "a thermal recording needs a thermal backbone (a trained actline thermal model)")
        chunks = video_chunks(source, spec)
    xs, times = [], []
    for group in _batched(prefetch(chunks, depth=2 * batch), batch):
        xs.append(backbone(np.stack([c for _, _, c in group])))
        times += [(a, b) for a, b, _ in group]
        if progress:
            progress(len(group))
    return Features(np.concatenate(xs).astype(np.float32), np.asarray(times, dtype=np.float64).reshape(-1, 2))


def file_digest(path: Path) -> str:
    from actline.core.hashing import sha256_file as sha256

    return sha256(path)


class FeatureCache:
    """Features on disk, keyed by content and parameters; verified on read, written atomically."""

    def __init__(self, root: str | Path | None):
        self.root = Path(root) if root else None
        self.hits = self.misses = self.corrupt = 0

    def key(self, path: Path, backbone: Backbone, spec: VideoSpec) -> str:
        params = {"file_sha256": file_digest(path), "backbone": backbone.name, "weights": backbone.digest,
                  "kind": backbone.kind, "background": backbone.background, **spec.as_dict()}
        return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.safetensors"

    def get(self, path: str | Path, backbone: Backbone, spec: VideoSpec, batch: int = 8, progress=None) -> Features:
        from safetensors.numpy import load_file, save_file

        path = Path(path)
        if self.root is None:
            return extract(path, backbone, spec, batch, progress)
        if not path.is_file():
            raise ActlineError(path, "file not found")
        key = self.key(path, backbone, spec)
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
        feats = extract(path, backbone, spec, batch, progress)
        checksum = np.frombuffer(bytes.fromhex(_digest(feats.x, feats.times)), dtype=np.uint8)
        with atomic_path(entry, suffix=".safetensors") as tmp:
            save_file({"features": feats.x, "times": feats.times, "checksum": checksum}, str(tmp),
                      metadata={"source": str(path), "key": key})
        return feats


def _digest(x: np.ndarray, t: np.ndarray) -> str:
    h = hashlib.sha256(np.ascontiguousarray(x, dtype=np.float32).tobytes())
    h.update(np.ascontiguousarray(t, dtype=np.float64).tobytes())
    return h.hexdigest()


# ----------------------------------------------------------------------------- sharded extraction
def _extract_shard(args) -> tuple[int, int, int, int]:
    files, name, weights, spec, cache_root, threads = args
    torch.set_num_threads(threads)
    bb = build_backbone(name, weights)
    cache = FeatureCache(cache_root)
    n = sum(len(cache.get(f, bb, spec)) for f in files)
    return n, cache.hits, cache.misses, cache.corrupt


def extract_many(files: list[Path], name: str, weights: str | None, spec, cache_root: Path, workers: int = 1,
                 progress=None) -> dict:
    """Fill the cache for ``files``: split round-robin over ``workers`` processes (or over the ranks of
    ``torchrun``), one shared cache, each file computed by exactly one worker."""
    import os

    files = sorted(Path(f) for f in files)
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    if world > 1:  # torchrun: this process is one worker among world
        files = files[rank::world]
    if workers <= 1:
        out = _extract_shard((files, name, weights, spec, cache_root, torch.get_num_threads()))
    else:
        import multiprocessing as mproc

        threads = max(1, (os.cpu_count() or 1) // workers)
        shards = [(files[w::workers], name, weights, spec, cache_root, threads) for w in range(workers)]
        with mproc.get_context("spawn").Pool(workers) as pool:
            parts = pool.map(_extract_shard, shards)
        out = tuple(sum(p[i] for p in parts) for i in range(4))
    return {"files": len(files), "chunks": out[0], "hits": out[1], "misses": out[2], "corrupt": out[3]}
