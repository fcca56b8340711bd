import numpy as np
import pytest
import torch

from actline.core.errors import ActlineError
from actline.data.chunks import recording_chunks
from actline.data.dataset import Recording
from actline.data.video import VideoSpec, write_video
from actline.data.window import WindowRule
from actline.features.backbone import build_backbone
from actline.features.cache import FeatureCache, extract


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("v") / "v.mp4"
    return write_video(path, [rng.integers(0, 255, (40, 56, 3), dtype=np.uint8) for _ in range(40)], fps=10)


SPEC = VideoSpec(fps=8, size=32, chunk=8, stride=8)


def test_random_backbones_are_reproducible(video):
    a, b = build_backbone("thermal_r2plus1d", None), build_backbone("thermal_r2plus1d", None)
    assert a.digest == b.digest and a.dim == 192 and a.kind == "rgb"
    fa = extract(video, a, SPEC)
    assert fa.x.shape == (4, 192) and fa.times.shape == (4, 2)
    assert np.allclose(fa.x, extract(video, b, SPEC).x)


def test_torchvision_backbone_from_a_local_weights_file(tmp_path, video):
    import torchvision

    torch.manual_seed(1)
    ref = torchvision.models.video.r3d_18(weights=None)
    path = tmp_path / "r3d_18_kinetics.pth"
    torch.save(ref.state_dict(), path)
    bb = build_backbone("r3d_18", str(path))
    assert bb.dim == 512
    x = torch.randn(1, 3, 8, 32, 32)
    ref.fc = torch.nn.Identity()
    with torch.no_grad():
        assert torch.allclose(ref.eval()(x), bb.model.features(x), atol=1e-5)
    with pytest.raises(ActlineError, match="weights file not found"):
        build_backbone("r3d_18", str(tmp_path / "missing.pth"))
    with pytest.raises(ActlineError, match="only torchvision video models take --weights"):
        build_backbone("thermal_r2plus1d", str(path))


def test_cache_hits_recomputes_corrupt_entries_and_keys_on_parameters(tmp_path, video):
    bb = build_backbone("thermal_r2plus1d", None)
    cache = FeatureCache(tmp_path / "cache")
    first = cache.get(video, bb, SPEC)
    again = cache.get(video, bb, SPEC)
    assert (cache.hits, cache.misses) == (1, 1) and np.array_equal(first.x, again.x)
    cache.get(video, bb, VideoSpec(fps=8, size=32, chunk=8, stride=4))  # another stride: another entry
    assert cache.misses == 2
    (entry,) = [p for p in (tmp_path / "cache").rglob("*.safetensors")
                if p.stem == cache.key(video, bb, SPEC)]
    data = bytearray(entry.read_bytes())
    data[-5] ^= 0xFF  # flip bits inside the stored features
    entry.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="corrupt feature cache entry"):
        fixed = cache.get(video, bb, SPEC)
    assert cache.corrupt == 1 and np.allclose(fixed.x, first.x)
    assert cache.get(video, bb, SPEC) is not None and cache.corrupt == 1  # rewritten entry reads clean
    other = bytearray(video.read_bytes())
    other[-10] ^= 0x01
    changed = tmp_path / "changed.mp4"
    changed.write_bytes(bytes(other))
    assert cache.key(changed, bb, SPEC) != cache.key(video, bb, SPEC)  # keyed on content, not name


def test_thermal_chunks_cover_the_recording():
    frames = np.full((37, 8, 8), 21.0, np.float32)
    frames[5, 2, 2] = -273.2  # a dead pixel is filled
    rec = Recording("r", frames, np.arange(37) * 0.1, group="g")
    chunks = list(recording_chunks(rec, WindowRule(length=16), stride=8))
    assert [round(s, 2) for s, _, _ in chunks] == [0.0, 0.8, 1.6, 2.1]  # the last is aligned to the end
    assert all(c.shape == (16, 8, 8) and c.min() > 0 for _, _, c in chunks)
