"""Frozen backbone features per chunk, and an on-disk cache of them.

A backbone maps a chunk ``[B, C, T, H, W]`` to one vector per chunk:
- a torchvision video model (``r3d_18`` by default, 512-D after global pooling) with weights from
  its enum (``KINETICS400_V1``: torchvision downloads it into ``$TORCH_HOME`` when online), from a
  local file (``--weights PATH``), or random (``none``, for tests and synthetic data);
- the encoder of a trained actline thermal model (``--backbone path/to/run/model``);
- any registered model that has a ``features`` method (random weights, seeded).

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
import torch.nn as nn
import torchvision.models.video as tvv

from actline.atomic import atomic_path
from actline.data.chunks import is_thermal_input, read_thermal_recording, recording_chunks
from actline.data.dataset import Recording
from actline.data.video import VideoSpec, prefetch, video_chunks
from actline.errors import ActlineError

# torchvision's Kinetics-400 video weights were trained on inputs normalised with these
KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)


def video_features(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The pooled vector before the classifier, for torchvision video models and actline models."""
    if isinstance(model, tvv.VideoResNet):
        x = model.layer4(model.layer3(model.layer2(model.layer1(model.stem(x)))))
        return model.avgpool(x).flatten(1)
    if isinstance(model, tvv.S3D):
        return model.avgpool(model.features(x)).flatten(1)
    if callable(getattr(model, "features", None)):
        return model.features(x)
    raise ActlineError(None, f"{type(model).__name__} has no feature extractor (features(x))")


def state_digest(model: nn.Module) -> str:
    """SHA-256 over a model's parameters and buffers: names what the weights are, wherever they came from."""
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


@dataclass
class Backbone:
    model: nn.Module
    dim: int
    kind: str  # "rgb" (uint8 video) or "thermal" (°C frames)
    digest: str
    window: int | None = None  # for thermal encoders: the window length they were trained on
    background: str = "none"
    frame_shape: tuple[int, int] | None = None  # for thermal encoders: the sensor's H, W

    @property
    def name(self) -> str:
        return self.model.arch["name"]

    @torch.inference_mode()
    def __call__(self, chunks: np.ndarray) -> np.ndarray:
        """[N, T, H, W, 3] uint8 (rgb) or [N, T, H, W] °C (thermal) -> [N, D] float32."""
        if self.kind == "rgb":
            x = torch.from_numpy(np.ascontiguousarray(chunks)).float().div_(255.0)
            mean, std = torch.tensor(KINETICS_MEAN), torch.tensor(KINETICS_STD)
            x = ((x - mean) / std).permute(0, 4, 1, 2, 3)  # [N, C, T, H, W]
        else:
            x = torch.from_numpy(np.ascontiguousarray(chunks, dtype=np.float32)).unsqueeze(1)
        return video_features(self.model, x.contiguous()).float().numpy()


def build_backbone(name: str = "r3d_18", weights: str | None = "KINETICS400_V1", seed: int = 0) -> Backbone:
    """A frozen feature extractor by name (see the module doc)."""
    from actline.checkpoint import load_model_dir, read_config
    from actline.models import create_model
    from actline.models.tv_video import TV_MODELS

    path = Path(name)
    if path.is_dir():  # a trained actline model: its encoder
        cfg = read_config(path)
        model, _ = load_model_dir(path)
        win = cfg.get("window", {})
        shape = cfg.get("preprocessing", {}).get("frame_shape")
        return Backbone(model, int(model.feature_dim), "thermal" if model.arch.get("in_chans", 1) == 1 else "rgb",
                        state_digest(model), win.get("length"), win.get("background") or "none",
                        tuple(shape) if shape else None)
    torch.manual_seed(seed)  # random weights (tests, synthetic data) must be the same at every call
    if name in TV_MODELS:
        try:
            model = create_model(name, num_classes=1, in_chans=3, weights=weights)
        except (OSError, RuntimeError) as exc:  # e.g. no network for the enum's download
            raise ActlineError(None, f"{name}: cannot get weights {weights!r} ({type(exc).__name__}: {exc}); "
                               "when offline pass --weights PATH to a local .pth file or --weights none") from None
        dim = int(model.feature_dim)
    else:
        if weights not in (None, "", "none"):
            raise ActlineError(None, f"{name}: only torchvision video models take --weights; "
                               "use --backbone path/to/model for a trained actline model")
        model = create_model(name, num_classes=1, in_chans=3)
        if not hasattr(model, "feature_dim"):
            raise ActlineError(None, f"{name} has no feature extractor")
        dim = int(model.feature_dim)
    model.eval()
    return Backbone(model, dim, "rgb", state_digest(model))


def load_backbone_dir(path: Path) -> Backbone:
    """The backbone saved inside a timeline model directory."""
    from actline.checkpoint import load_model_dir

    model, cfg = load_model_dir(path)
    fb = cfg.get("feature_backbone", {})
    shape = fb.get("frame_shape")
    return Backbone(model, int(fb["dim"]), fb["kind"], fb["digest"], fb.get("window"), fb.get("background", "none"),
                    tuple(shape) if shape else None)


def save_backbone_dir(path: Path, bb: Backbone) -> None:
    from actline.checkpoint import save_model_dir

    save_model_dir(path, bb.model, {"pipeline": "feature-backbone", "arch": bb.model.arch,
                                    "feature_backbone": {"dim": bb.dim, "kind": bb.kind, "digest": bb.digest,
                                                         "window": bb.window, "background": bb.background,
                                                         "frame_shape": bb.frame_shape}})


# ----------------------------------------------------------------------------------------- inputs

# ----------------------------------------------------------------------------------------- extraction

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
    from actline.checkpoint import sha256

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
