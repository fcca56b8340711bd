"""Which optional install (``pip install 'actline[EXTRA]'``) provides a third-party module.

The core install is only NumPy, typer and rich; ``runtime`` runs exported ONNX models, ``train``
adds torch and everything training, export and reports need (``pyproject.toml``). Code that needs
an extra imports it inside the function that uses it, so a missing one fails only there, and the
command line turns the ``ModuleNotFoundError`` into one line naming the extra (:func:`missing_extra`).
"""

from __future__ import annotations

import importlib.util

# top-level module -> the extra that installs it (pyproject.toml [project.optional-dependencies])
EXTRA_OF = {
    "onnxruntime": "runtime", "h5py": "runtime", "av": "runtime", "scipy": "runtime", "PIL": "runtime",
    "torch": "train", "torchvision": "train", "safetensors": "train", "sklearn": "train", "skl2onnx": "train",
    "onnx": "train", "matplotlib": "train", "yaml": "train",
    "fastapi": "serve", "uvicorn": "serve", "starlette": "serve", "multipart": "serve", "python_multipart": "serve",
    "prometheus_client": "serve", "paho": "mqtt", "ray": "ray",
}


def missing_extra(exc: ImportError) -> str | None:
    """One line saying what to install for a module that is not installed, or None if it is not an extra's."""
    top = (getattr(exc, "name", None) or "").split(".")[0]
    extra = EXTRA_OF.get(top)
    if extra is None:
        return None
    return f"this needs {top}, which is not installed: pip install 'actline[{extra}]'"


def installed(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it (a finder that refuses it counts as absent)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False
