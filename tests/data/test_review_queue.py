"""The review queue: items added atomically and never overwritten, answered once, bad files refused in one line."""

import io
import json
import logging
import os
import re
import zipfile

import numpy as np
import pytest

from actline.core.errors import ActlineError
from actline.data.labels import review_queue as rq

TOP3 = [["walk", 0.41], ["idle", 0.35], ["sit", 0.2]]


def _add(d, n=12, **kw):
    frames = np.random.default_rng(0).normal(22, 1, (n, 4, 6)).astype(np.float32)
    frames[0, 0, 0] = -273.2  # a dead pixel survives the trip
    ts = 1_700_000_000.0 + np.cumsum(np.r_[0, np.full(n - 1, 0.1)])
    ts[5:] += 2.0  # a gap
    args = dict(recording="SL14_R9", start_s=3.0, end_s=4.3, top3=TOP3, model="ab" * 32, source="uncertain")
    args.update(kw)
    return rq.add_item(d, frames, ts, **args), frames, ts


def test_an_item_round_trips_and_lists_once_complete(tmp_path):
    item_id, frames, ts = _add(tmp_path, data=tmp_path / "DATA")
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{item_id}.json", f"{item_id}.npz"]  # no temp files left
    (item,) = rq.read_items(tmp_path)
    assert (item.id, item.recording, item.start_s, item.end_s, item.top3, item.source, item.answer) == \
        (item_id, "SL14_R9", 3.0, 4.3, TOP3, "uncertain", None)
    assert item.data == str(tmp_path / "DATA") and item.written_at.endswith("+00:00")
    got_frames, got_ts = rq.read_item_frames(tmp_path, item_id)
    assert got_frames.dtype == np.float32 and np.array_equal(got_frames, frames)
    assert got_ts.dtype == np.float64 and np.array_equal(got_ts, ts)
    # an .npz without its .json is an item being written: not listed, and no complaint
    (tmp_path / "20250101T000000-00000000.npz").write_bytes(b"partial")
    assert [i.id for i in rq.read_items(tmp_path)] == [item_id]


def test_writers_never_overwrite(tmp_path, monkeypatch):
    first, _, _ = _add(tmp_path)
    before = (tmp_path / f"{first}.json").read_bytes(), (tmp_path / f"{first}.npz").read_bytes()
    ids = iter([first, first, "20250101T000000-0000beef"])  # the same id drawn twice: the writer draws again
    monkeypatch.setattr(rq, "_new_id", lambda: next(ids))
    second, _, _ = _add(tmp_path, recording="other")
    assert second == "20250101T000000-0000beef"
    assert ((tmp_path / f"{first}.json").read_bytes(), (tmp_path / f"{first}.npz").read_bytes()) == before
    assert len(rq.read_items(tmp_path)) == 2
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # the refused temp files are gone


def test_answer_once_atomically(tmp_path):
    item_id, _, _ = _add(tmp_path)
    done = rq.answer_item(tmp_path, item_id, "idle", "ana")
    assert (done.answer, done.answered_by) == ("idle", "ana") and done.answered_at
    assert rq.read_items(tmp_path, answered=False) == [] and [i.id for i in rq.read_items(tmp_path, answered=True)] == [item_id]
    with pytest.raises(ActlineError, match="already answered"):
        rq.answer_item(tmp_path, item_id, "walk", "bo")
    assert json.loads((tmp_path / f"{item_id}.json").read_text())["answer"] == "idle"
    with pytest.raises(ActlineError, match="not a review item id"):
        rq.answer_item(tmp_path, "../../etc/passwd", "idle", "ana")


def test_bad_arguments_are_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ActlineError, match="'source' must be one of"):
        _add(tmp_path, source="guess")
    with pytest.raises(ActlineError, match="'recording'"):
        _add(tmp_path, recording="../x")
    with pytest.raises(ActlineError, match="frames must be"):
        rq.add_item(tmp_path, np.zeros((2, 4)), np.zeros(2), recording="a", start_s=0, end_s=1, top3=TOP3,
                    model=None, source="collect")
    assert not tmp_path.exists() or not list(tmp_path.iterdir())


def _npz(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


@pytest.mark.parametrize("content, message", [
    (b"not a zip", "not a readable NPZ"),
    (_npz({"frames": np.zeros((2, 3, 3), np.float32)}), "missing array"),
    (_npz({"frames": np.zeros((2, 3), np.float32), "timestamps": np.zeros(2)}), "must have 3 dimension"),
    (_npz({"frames": np.array([[[None]]], dtype=object), "timestamps": np.zeros(1)}), "must be numeric"),
    (_npz({"frames": np.zeros((2, 3, 3), np.float32), "timestamps": np.zeros(3)}), "expected (2,)"),
    (_npz({"frames": np.full((2, 3, 3), np.nan, np.float32), "timestamps": np.zeros(2)}), "NaN"),
    (_npz({"frames": np.zeros((2, 3, 3), np.float32), "timestamps": np.array([1.0, 0.0])}), "go backwards"),
    (_npz({"frames": np.zeros((1, 600, 3), np.float32), "timestamps": np.zeros(1)}), "sides of at most 512"),
    (_npz({"frames": np.zeros((5000, 1, 1), np.float32), "timestamps": np.arange(5000.0)}), "1 <= N <= 4096"),
])
def test_bad_npz_files_are_one_line_naming_the_file(tmp_path, content, message):
    item_id, _, _ = _add(tmp_path)
    (tmp_path / f"{item_id}.npz").write_bytes(content)
    with pytest.raises(ActlineError, match=re.escape(message)) as exc:
        rq.read_item_frames(tmp_path, item_id)
    assert f"{item_id}.npz" in str(exc.value) and "\n" not in str(exc.value)


def test_sizes_are_capped_before_reading(tmp_path, monkeypatch):
    item_id, _, _ = _add(tmp_path)
    # a member whose declared uncompressed size is larger than its array: a zip bomb is never inflated
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (1, 2, 2)})
        zf.writestr("frames.npy", header.getvalue() + b"\0" * (50 << 20))
        zf.writestr("timestamps.npy", header.getvalue())
    (tmp_path / f"{item_id}.npz").write_bytes(buf.getvalue())
    with pytest.raises(ActlineError, match="holds more bytes than its shape"):
        rq.read_item_frames(tmp_path, item_id)
    # a header declaring a billion values is refused before anything is allocated
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (4000, 512, 512)})
        zf.writestr("frames.npy", header.getvalue())
        zf.writestr("timestamps.npy", header.getvalue())
    (tmp_path / f"{item_id}.npz").write_bytes(buf.getvalue())
    with pytest.raises(ActlineError, match="more than the limit of 16,777,216"):
        rq.read_item_frames(tmp_path, item_id)
    monkeypatch.setattr(rq, "MAX_NPZ_BYTES", 100)
    with pytest.raises(ActlineError, match="too large for a review item"):
        rq.read_item_frames(tmp_path, item_id)
    (tmp_path / f"{item_id}.json").write_text(" " * (rq.MAX_JSON_BYTES + 1))
    with pytest.raises(ActlineError, match="too large for a review item"):
        rq.read_item(tmp_path, item_id)


@pytest.mark.parametrize("edit, message", [
    (lambda o: o.update(source="guess"), "'source'"),
    (lambda o: o.update(top3=[["a", 2.0]]), "'top3'"),
    (lambda o: o.update(start_s=5.0, end_s=1.0), "start_s <= end_s"),
    (lambda o: o.update(id="20250101T000000-ffffffff"), "not the file's name"),
    (lambda o: o.update(recording="a/b"), "'recording'"),
    (lambda o: o.update(format=9), "'format'"),
])
def test_bad_json_items_are_skipped_with_one_line(tmp_path, caplog, edit, message):
    good, _, _ = _add(tmp_path)
    bad, _, _ = _add(tmp_path)
    path = tmp_path / f"{bad}.json"
    obj = json.loads(path.read_text())
    edit(obj)
    path.write_text(json.dumps(obj))
    (tmp_path / "notes.json").write_text("{}")
    with caplog.at_level(logging.WARNING, logger="actline"):
        assert [i.id for i in rq.read_items(tmp_path)] == [good]
    lines = [r.getMessage() for r in caplog.records]
    assert any(f"{bad}.json" in m and message.strip("'") in m for m in lines), lines
    assert any("notes" in m and "not a review item id" in m for m in lines)
    assert all("\n" not in m for m in lines)


def test_a_missing_folder_is_one_line(tmp_path):
    with pytest.raises(ActlineError, match="review queue folder not found"):
        rq.read_items(tmp_path / "nope")
    assert os.path.exists(tmp_path)
