"""``make demo``: the main job on built-in synthetic data, from data to report, in steps a caller can show.

1. a realistic synthetic data set in the ThermalDataGen layout (``actline synth``) and its summary;
2. a montage of example windows per class;
3. the default recipe trained on whole recordings and evaluated on recordings it never saw, beside
   the majority, chance and classical baselines (``actline train``);
4. the keyframes of one held-out recording predicted by the saved model (``actline predict``);
5. one self-contained HTML report of it all (``actline report``).
"""

from __future__ import annotations

from pathlib import Path

from actline.data import load_dataset
from actline.data.inspect import render_montage, summarize
from actline.data.synth.thermal_set import SynthConfig, generate_thermal_dataset
from actline.infer.loader import load
from actline.runs.clip_run import train_run
from actline.runs.rundir import read_split
from actline.train.config import load_config


def make_data(out: Path, seed: int = 0, preset: str = "realistic", recordings: int | None = None,
              duration: float | None = None) -> tuple[Path, dict]:
    cfg = SynthConfig(preset=preset, seed=seed, n_recordings=recordings, duration_s=duration)
    data = generate_thermal_dataset(out / "data", cfg, overwrite=True)
    ds = load_dataset(data)
    render_montage(ds, out / "montage.png")
    return data, summarize(ds)


def train_and_evaluate(data: Path, out: Path, seed: int = 0, overrides: list[str] | None = None, progress=None) -> dict:
    cfg = load_config(None, [f"seed={seed}", *(overrides or [])])
    return train_run(data, out / "run", cfg, progress=progress, overwrite=True)


def predict_held_out(data: Path, run: Path) -> tuple[str, list[dict]]:
    """The keyframes of the first recording the run held out, predicted by its saved model."""
    ds = load_dataset(data)
    split = read_split(run)
    held = sorted(set(split["eval"]["recordings"]) - set(split.get("shared_recordings") or []))
    rec = ds.recordings[held[0]]
    samples = sorted((s for s in ds.samples if s.recording_id == rec.id), key=lambda s: s.frame_idx)
    preds = load(run / "model").predict_recording(rec, centres=[s.frame_idx for s in samples])
    return rec.id, [{"time_s": round(ts - float(rec.timestamps[0]), 1), "true": ds.classes[s.label],
                     "predicted": p.label, "confidence": round(p.confidence, 2)}
                    for s, (_, ts, p) in zip(samples, preds)]
