"""What ``actline predict`` does to each recording file: its windows' predictions, its room, and the windows
to review, computed here or as tasks on a Ray cluster (:func:`~actline.core.task_map.map_tasks`).

A task only reads: it returns what it found, and the process that started the run prints it and adds
the review items, so a task run twice (a Ray task retried after its worker died) prints and adds
nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from actline.core.errors import ActlineError
from actline.core.progress import Progress
from actline.core.task_map import Job, map_tasks
from actline.data.formats import find_inputs, load_recording


@dataclass
class PredictJob(Job):
    """The model (loaded once per process) and how each recording is predicted: annotated keyframes when the
    recording sits in a labelled data set and ``stride`` is None, else windows every ``stride`` frames;
    ``review_count`` windows chosen for a review queue (0: none)."""

    model: Path
    stride: int | None = None
    top_k: int = 3
    review_count: int = 0
    device: str = "auto"
    threads: int = 0

    def recognizer(self):
        from actline.infer.recognizer import Recognizer

        return self.once("recognizer", lambda: Recognizer.load(self.model, device=self.device, threads=self.threads))


@dataclass
class RecordingPredictions:
    """One recording's predictions: ``(frame index, timestamp, Prediction)`` per window."""

    path: Path
    recording: str
    t0: float  # the recording's first timestamp
    preds: list
    keyframes: bool  # windows on the annotated keyframes (else sliding)
    truth: dict = field(default_factory=dict)  # frame index -> annotated class, on keyframes
    room: dict | None = None  # Recognizer.room_report of the recording's empty room
    review: list = field(default_factory=list)  # review_windows.uncertain_windows
    data: Path | None = None  # the labelled data set the recording sits in


def predict_file(job: PredictJob, path: Path, progress: Progress | None = None) -> RecordingPredictions:
    """One recording of a :class:`PredictJob`."""
    recognizer = job.recognizer()
    rec = load_recording(path)
    centres, truth = None, {}
    root = dataset_root(path)
    if job.stride is None and root is not None:
        centres, truth = _keyframes(job, root, rec.id)
    preds = recognizer.predict_recording(rec, centres=centres, stride=job.stride, k=job.top_k)
    review = []
    if job.review_count:
        from actline.infer.review_windows import uncertain_windows

        review = uncertain_windows(recognizer, rec, preds, job.review_count)
    return RecordingPredictions(path, rec.id, float(rec.timestamps[0]), preds, bool(centres), truth,
                                recognizer.room_report(rec.empty_room()), review, root)


def predict_files(job: PredictJob, inputs: list[Path], cluster: str | None = None, progress: Progress | None = None):
    """:func:`predict_file` of every recording in ``inputs`` (files, or folders of them), yielded in order as
    they finish; here, or as tasks on the Ray cluster at ``cluster``."""
    files = find_inputs(inputs, "thermal")
    return map_tasks(predict_file, files, job, cluster=cluster, progress=progress, name="recordings",
                     cpus=job.threads or 1)


def dataset_root(recording: Path) -> Path | None:
    """The ThermalDataGen directory holding this recording (``DIR/frames/<recording>.h5``), if it is in one."""
    root = Path(recording).resolve().parent.parent
    return root if (root / "annotations" / "class_mapping.json").is_file() else None


def _keyframes(job: PredictJob, root: Path, rec_id: str) -> tuple[list | None, dict]:
    """The annotated keyframes of a recording in the labelled data set at ``root`` (read once per process)."""
    from actline.data.thermal_h5 import read_thermal_dataset

    def read():
        try:
            return read_thermal_dataset(root)
        except ActlineError:
            return None

    ds = job.once(("data", root), read)
    if ds is None:
        return None, {}
    samples = sorted((s for s in ds.samples if s.recording_id == rec_id), key=lambda s: s.frame_idx)
    if not samples:
        return None, {}
    return [s.frame_idx for s in samples], {s.frame_idx: ds.classes[s.label] for s in samples}
