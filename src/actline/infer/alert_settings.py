"""A model's alert setting: ``alerts.json`` in its directory, written by ``actline alerts choose`` and listed in its
``checksums.json``; ``actline stream``, ``evaluate-stream`` and ``serve`` read it.

The file holds the setting (``alerts``: class -> hold seconds, ``enter``, ``exit``, ``ema``) and how it was
chosen (the trade-off asked for, the figures measured on held-out recordings, the curve chosen from). A
stream takes the setting unless told otherwise: each of ``--alert``, ``--enter``, ``--exit``, ``--ema`` given
on the command line replaces its part.
"""

from __future__ import annotations

import math
from pathlib import Path

from actline.core.errors import ActlineError
from actline.core.jsonfile import read_json_object
from actline.infer.stream_config import StreamConfig, parse_alerts
from actline.modeldir.directory import add_file, listed, verify

ALERTS = "alerts.json"
FORMAT = "actline-alerts/1"
DEFAULTS = {k: getattr(StreamConfig, k) for k in ("ema", "enter", "exit")}  # for a model without alerts.json
MAX_BYTES = 1 << 20


def check_setting(doc, classes: list[str], where) -> dict:
    """The setting of an ``alerts.json`` document, checked against the model's ``classes``: one line naming
    ``where`` and the field for anything wrong."""
    if not isinstance(doc, dict):
        raise ActlineError(where, "not a JSON object")
    if doc.get("format") != FORMAT:
        raise ActlineError(where, f"format: expected {FORMAT!r}, got {doc.get('format')!r}")
    alerts = doc.get("alerts")
    if not isinstance(alerts, dict) or not alerts:
        raise ActlineError(where, "alerts: expected an object of CLASS: hold seconds with at least one class")
    for name, hold in alerts.items():
        if name not in classes:
            raise ActlineError(where, f"alerts: {name!r} is not a class of this model ({', '.join(classes)})")
        if isinstance(hold, bool) or not isinstance(hold, (int, float)) or not math.isfinite(hold) or hold < 0:
            raise ActlineError(where, f"alerts.{name}: the hold must be seconds >= 0, got {hold!r}")
    out = {"alerts": {k: float(v) for k, v in alerts.items()}}
    for key, default in DEFAULTS.items():
        v = doc.get(key, default)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ActlineError(where, f"{key}: expected a number, got {v!r}")
        out[key] = float(v)
    if not 0 < out["ema"] <= 1:
        raise ActlineError(where, f"ema: must be in (0, 1], got {out['ema']}")
    if not 0 <= out["exit"] <= out["enter"] <= 1:
        raise ActlineError(where, f"enter/exit: need 0 <= exit <= enter <= 1, got exit={out['exit']}, enter={out['enter']}")
    return out


def model_dir_of(model: str | Path) -> Path | None:
    """The model directory ``model`` is, or lies in (an exported ``.onnx`` listed in its directory's checksums)."""
    path = Path(model)
    if path.is_dir():
        return path
    return path.parent if path.is_file() and listed(path) else None


def read_alerts(model: str | Path, classes: list[str]) -> dict | None:
    """The checked ``alerts.json`` of a model (the whole document, its setting checked), or None if it has none.
    The file must be listed in the directory's ``checksums.json`` and match it."""
    root = model_dir_of(model)
    if root is None or not (root / ALERTS).is_file():
        return None
    path = verify(root, ALERTS)
    doc = read_json_object(path, MAX_BYTES, "an alert setting")
    return {**doc, **check_setting(doc, classes, path)}


def write_alerts(model_dir: str | Path, doc: dict, classes: list[str]) -> Path:
    """Check ``doc`` and write it as the model directory's ``alerts.json`` (listed in its checksums, atomically)."""
    import json

    doc = {"format": FORMAT, **doc}
    check_setting(doc, classes, Path(model_dir) / ALERTS)
    text = json.dumps(doc, indent=1, default=float) + "\n"
    return add_file(model_dir, ALERTS, lambda p: p.write_text(text, encoding="utf-8"))


def set_alerts(model_dir: str | Path, setting_file: str | Path) -> Path:
    """A hand-made setting (a JSON file as ``alerts.json`` holds it) checked against the model's classes and
    written as the model directory's ``alerts.json``; the file records where it came from."""
    from actline.core.jsonfile import read_json_object
    from actline.modeldir.directory import CONFIG, read_config

    model_dir = Path(model_dir)
    if not (model_dir / CONFIG).is_file():
        raise ActlineError(model_dir, "not a model directory (no config.json)")
    classes = list(read_config(model_dir)["classes"])
    doc = read_json_object(setting_file, MAX_BYTES, "an alert setting")
    setting = check_setting(doc, classes, setting_file)
    return write_alerts(model_dir, {**setting, "chosen": {"by": "hand", "from": str(setting_file)}}, classes)


def stream_setting(model: str | Path | None, classes: list[str], alerts: list[str] | None = None, ema: float | None = None,
                   enter: float | None = None, exit: float | None = None) -> dict:
    """What a stream runs with: the model's ``alerts.json`` (if any) with each given option replacing its part.
    ``{"alerts": {class: s} or None (the default alert classes), "ema", "enter", "exit", "events", "source"}``:
    ``events`` are the event kinds the saved setting was chosen for (empty when --alert replaces its classes: an
    event kind none of its classes alerts on is still judged, all missed); ``source`` names the file the rest came
    from, or None."""
    saved = read_alerts(model, classes) if model else None
    given = parse_alerts(list(alerts or []), classes)
    base = saved or {"alerts": None, **DEFAULTS}
    out = {"alerts": given if given is not None else base["alerts"],
           **{k: v if v is not None else base[k] for k, v in (("ema", ema), ("enter", enter), ("exit", exit))}}
    events = (saved or {}).get("events") if given is None else None
    out["events"] = [e for e in events if isinstance(e, str)] if isinstance(events, list) else []
    overridden = given is not None or any(v is not None for v in (ema, enter, exit))
    out["source"] = None if saved is None else f"{model_dir_of(model) / ALERTS}" + (" (options given replace parts)"
                                                                                   if overridden else "")
    return out

