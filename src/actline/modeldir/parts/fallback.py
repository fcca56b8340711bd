"""The room gate's fallback CNN: ``fallback.safetensors`` (``fallback.onnx`` once exported).

In a room unlike every training room, the room gate fuses the trees with a second CNN of the same recipe,
trained on windows with only their static heat removed (``static-heat``: the floor pattern and hot
furniture gone, a still person kept), so that it reads the person rather than the room. Its config
rides inside the gate's: ``room_gate.fallback: {arch, background}``. A model directory made before the
fallback existed has none, and the CNN itself takes its place.
"""

from __future__ import annotations

from actline.data.window import BACKGROUNDS

FALLBACK, FALLBACK_ONNX = "fallback.safetensors", "fallback.onnx"


def check(fb) -> None:
    """A gate's ``fallback`` setting (None: none), or ValueError."""
    if fb is not None and (not isinstance(fb, dict) or fb.get("background") not in BACKGROUNDS
                           or not isinstance(fb.get("arch"), dict)):
        raise ValueError("'fallback' must hold the fallback CNN's 'arch' and a known 'background'")


def file_name(backend: str) -> str:
    return FALLBACK_ONNX if backend == "onnx" else FALLBACK


def load(source, fb: dict | None):
    """The fallback CNN the gate's config names (None where it names none), on the source's backend."""
    if fb is None:
        return None
    name = file_name(source.backend)
    return source.onnx(name) if name == FALLBACK_ONNX else source.torch(name, fb["arch"])


def writer(fallback):
    """What writes a trained fallback CNN's weights (its torch module) as safetensors."""
    from actline.modeldir.directory import weights_writer

    return weights_writer(fallback.model)


def export(job, fb: dict) -> None:
    """The fallback CNN beside an export: converted to ONNX (and checked) from its safetensors."""
    job.export_torch(FALLBACK, fb["arch"], FALLBACK_ONNX,
                     f"the room gate's fallback CNN: windows minus their {fb['background']} background "
                     "(actline.data.window.remove_background)")
