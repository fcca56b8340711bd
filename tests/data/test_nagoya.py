"""The Nagoya FIR 16x16 reader, on crafted files and (when present) on the real data set."""

import gzip
from collections import Counter

import numpy as np
import pytest

from actline.core.errors import ActlineError
from actline.data import load_dataset
from actline.data.nagoya import (
    CLASSES,
    UNSTABLE_FRAMES,
    read_annotations,
    read_nagoya,
    read_nagoya_csv,
    segment_counts,
)
from tests.conftest import shared_path


def _write_csv(path, n=40, bad_row=None):
    lines = ["2017/02/03 17:28:07", ",".join(["Time (sec)", "PTAT"] + [f"P{i:03d}" for i in range(256)])]
    for k in range(n):
        vals = [f"{0.1 * k:.2f}", "20.0"] + [f"{20 + (i == k % 256):.2f}" for i in range(256)]
        if k == bad_row:
            vals = vals[:-1]
        lines.append(",".join(vals))
    text = "\n".join(lines) + "\n"
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def _tiny_dataset(root, n=40):
    (root / "20170101" / "raw").mkdir(parents=True)
    (root / "annotation").mkdir()
    _write_csv(root / "20170101" / "raw" / "20170101_p1_light1.csv.gz", n)
    _write_csv(root / "20170101" / "raw" / "20170101_p1_dark1.csv", n)
    (root / "annotation" / "annotation_20170101.csv").write_text(
        "20170101_p1_light1.csv,16,25,walk1,30,35,lie,,,\n20170101_p1_dark1.csv,20,39,sit,,,\n")
    return root


def test_reads_csv_and_gz_and_frame_labels(tmp_path):
    ds = load_dataset(_tiny_dataset(tmp_path / "nag"))
    assert ds.format == "nagoya-csv" and ds.classes == CLASSES
    rec = ds.recordings["20170101_p1_light1"]
    assert rec.frames.shape == (40 - UNSTABLE_FRAMES, 16, 16) and rec.group == "20170101"
    # annotation indices are 0-based rows; after dropping the start-up frames they shift
    labels = rec.frame_labels
    assert labels[16 - UNSTABLE_FRAMES] == CLASSES.index("walk") and labels[0] == -1
    assert (labels == CLASSES.index("lie")).sum() == 6
    assert rec.timestamps[0] == pytest.approx(0.1 * UNSTABLE_FRAMES)
    assert {s.recording_id for s in ds.samples} == {"20170101_p1_light1", "20170101_p1_dark1"}


def test_bad_csv_rows_and_labels(tmp_path):
    bad = _write_csv(tmp_path / "x.csv", 20, bad_row=5)
    with pytest.raises(ActlineError, match=r"x\.csv: line 8: expected 258 fields, got 257"):
        read_nagoya_csv(bad)
    (tmp_path / "t.csv.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(ActlineError, match="t.csv.gz: cannot read"):
        read_nagoya_csv(tmp_path / "t.csv.gz")
    ann = tmp_path / "annotation_x.csv"
    ann.write_text("a.csv,1,5,dance,,,\n")
    with pytest.raises(ActlineError, match="annotation_x.csv: line 1: unknown label 'dance'"):
        read_annotations(ann)
    ann.write_text("a.csv,1,5\n")
    with pytest.raises(ActlineError, match="triples"):
        read_annotations(ann)


@pytest.mark.slow
def test_real_nagoya_counts_match_annotation_files():
    root = shared_path("nagoya-fir16")
    ds = read_nagoya(root)
    assert len(ds.recordings) == 300
    assert {r.group for r in ds.recordings.values()} == {"20170203", "20170206", "20170209"}
    rec = ds.recordings["20170203_p1_light4"]
    assert rec.n_frames + UNSTABLE_FRAMES == 440 and rec.frames.shape[1:] == (16, 16)
    assert 9.0 < 1 / np.median(np.diff(rec.timestamps)) < 10.0
    # after dropping the start-up frames, temperatures are room-like
    assert 15.0 < float(np.median(rec.frames)) < 25.0
    # segment counts per label, from the reader's frame labels, equal the annotation files'
    # own counts; and the per-human file lists the same segments
    raw = segment_counts(root)
    human = Counter()
    for path in sorted((root / "annotation").glob("annotation_*_human.csv")):
        for line in path.read_text().splitlines():
            if line.strip():
                human[line.split(",")[3]] += 1
    assert raw == human
    merged = Counter()
    for lab, n in raw.items():
        merged["walk" if lab.startswith("walk") else lab] += n
    runs = Counter()
    for rec in ds.recordings.values():
        lab = rec.frame_labels
        starts = np.flatnonzero((lab >= 0) & np.r_[True, lab[1:] != lab[:-1]])
        runs.update(ds.classes[lab[i]] for i in starts)
    # adjacent segments with the same label merge into one run, so runs never exceed segments
    for cls in ds.classes:
        assert 0.9 * merged[cls] <= runs[cls] <= merged[cls], cls
    assert set(merged) == set(CLASSES)
    assert min(ds.class_counts().values()) > 0
