"""Review-queue answers become labelled data: the item's window is added to DATA as a recording of its own
(named ``<item's recording>_<item id>``, so its location is the item's) with one segment over all of it."""

from __future__ import annotations

from pathlib import Path

from actline.apps.label.label_store import LabelStore
from actline.core.errors import ActlineError
from actline.data.dataset import Recording
from actline.data.labels import check_recording_name, frames_to_segment, review_queue
from actline.data.recordings.thermal_h5_file import location_of


def item_recording_name(item: review_queue.ReviewItem) -> str:
    """``<location>_<rest>``: the item's recording name (whose location comes first) and the item's id."""
    return check_recording_name(f"{item.recording}_{item.id}", f"review item {item.id}")


def answer(store: LabelStore, queue: Path, item_id: str, label: str, who: str) -> dict:
    """Add the item's window to DATA with ``label`` over all of it, then mark the item answered.

    Done in that order, so a crash between the two leaves an open item whose next answer replaces the
    recording's segment (the recording is not added twice)."""
    item = review_queue.read_item(queue, item_id)
    if item.answer is not None:
        raise ActlineError(queue / f"{item_id}.json", f"already answered ({item.answer!r} by {item.answered_by})")
    frames, timestamps = review_queue.read_item_frames(queue, item_id)
    name = item_recording_name(item)
    rec = Recording(id=name, frames=frames, timestamps=timestamps, group=location_of(name),
                    source=str(queue / f"{item_id}.npz"))
    segment = frames_to_segment(rec, 0, rec.n_frames - 1, label)
    before, after = store.add_recording(rec, segment)
    done = review_queue.answer_item(queue, item_id, label, who)
    return {"item": done.to_dict(), "recording": name, "segment": [segment.start_s, segment.end_s, segment.label],
            "previous": before, "version": after}
