"""Labelled recordings: segments, the keyframe rule, and labelled data sets on disk. The one API that the
importers (``actline data import``), the browser label page and the review queue use.

Segment times everywhere are seconds from the recording's FIRST frame; the sensor's own clock appears
only as ``timestamp_s``. A recording's name is ``<location>_<rest>``.

- :class:`LabelledSegment`, :class:`KeyframeRule`, :func:`validate_segments`, :func:`read_segments_csv`,
  :func:`write_segments_csv`, :func:`keyframes`, :func:`segments_from_keyframes`
  (:mod:`actline.data.labels.labelled_segments`);
- :func:`write_labelled_dataset`, :func:`update_dataset`, :func:`dataset_version`
  (:mod:`actline.data.labels.labelled_store`).
"""

from actline.data.labels.labelled_segments import (
    KeyframeRule,
    LabelledSegment,
    frames_to_segment,
    keyframes,
    read_segments_csv,
    relative_times,
    segments_from_keyframes,
    validate_segments,
    write_segments_csv,
)
from actline.data.labels.labelled_store import (
    check_recording_name,
    dataset_version,
    update_dataset,
    write_labelled_dataset,
)

__all__ = ["KeyframeRule", "LabelledSegment", "check_recording_name", "dataset_version", "frames_to_segment",
           "keyframes", "read_segments_csv", "relative_times", "segments_from_keyframes", "update_dataset",
           "validate_segments", "write_labelled_dataset", "write_segments_csv"]
