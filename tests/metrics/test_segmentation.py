"""Timeline metrics: the field's reference values (50 Salads, MS-TCN eval.py) and hand-made edge cases."""

import json

import numpy as np
import pytest

from actline.core.errors import ActlineError
from actline.metrics.segmentation import (
    SegmentationScores,
    edit_score,
    f_counts,
    levenshtein,
    segments,
)
from tests.conftest import shared_path


def _frame_labels(path):
    out = []
    for line in path.read_text().splitlines():
        if line.strip():
            s, e, name, _ = line.split(",")
            out += [name] * (int(e) - int(s) + 1)
    return np.array(out)


@pytest.mark.slow
@pytest.mark.parametrize("which,bg", [("50salads", ()), ("50salads_bg_start_end", ("action_start", "action_end"))])
def test_reproduces_reference_to_1e4(which, bg):
    root = shared_path("50salads-labels")
    ref = json.loads((root / "reference_metrics.json").read_text())[which]
    assert tuple(ref["bg_class"]) == (bg or ("background",))
    files = sorted((root / "Frame_Labels").glob("*.txt"))
    gts = [_frame_labels(p) for p in files]
    assert len(files) == 50 and sum(map(len, gts)) == 577_609
    for pert in ("shift15", "coarse8", "cross_resample"):
        scores = SegmentationScores()
        for i, (path, gt) in enumerate(zip(files, gts)):
            t = np.arange(len(gt))
            if pert == "shift15":
                pred = gt[np.maximum(0, t - 15)]
            elif pert == "coarse8":
                pred = gt[(t // 8) * 8]
            else:
                nxt = gts[(i + 1) % len(gts)]
                pred = nxt[(t * len(nxt)) // len(gt)]
            scores.add(path.name, pred, gt, bg)
        checked = 0
        for video, values in ref["per_video"][pert].items():
            for key, want in values.items():
                np.testing.assert_allclose(scores.per_video[video][key], want, atol=1e-4, err_msg=f"{pert} {video} {key}")
                checked += 1
        agg = scores.aggregate()
        for key, want in ref["aggregate"][pert].items():
            np.testing.assert_allclose(agg[key], want, atol=1e-4, err_msg=f"{pert} aggregate {key}")
            checked += 1
        assert checked > 50 * 4


def test_segments_follow_the_reference_convention():
    labs, starts, ends = segments(["a", "a", "b", "b", "b", "a"])
    assert labs.tolist() == ["a", "b", "a"] and starts.tolist() == [0, 2, 5] and ends.tolist() == [2, 5, 5]
    labs, _, _ = segments(["bg", "a", "bg", "b"], bg=("bg",))
    assert labs.tolist() == ["a", "b"]


def test_levenshtein_matches_a_plain_implementation():
    rng = np.random.default_rng(0)
    for _ in range(200):
        p = rng.integers(0, 4, rng.integers(0, 9)).tolist()
        y = rng.integers(0, 4, rng.integers(0, 9)).tolist()
        d = np.zeros((len(p) + 1, len(y) + 1))
        d[:, 0], d[0, :] = np.arange(len(p) + 1), np.arange(len(y) + 1)
        for i in range(1, len(p) + 1):
            for j in range(1, len(y) + 1):
                d[i, j] = min(d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + (p[i - 1] != y[j - 1]))
        assert levenshtein(p, y) == d[-1, -1]


def test_edge_cases():
    gt = np.array(["a"] * 10)
    scores = SegmentationScores()
    row = scores.add("single", gt.copy(), gt)  # a single segment, predicted exactly
    assert row["acc"] == 100 and row["edit"] == 100 and row["f1@0.5"] == 100 and row["mean_iou"] == 100
    # all background: nothing to match, no segments either side
    bg = np.array(["bg"] * 10)
    row = scores.add("all-bg", bg, bg, bg=("bg",))
    assert row["edit"] == 100 and row["tp_fp_fn@0.5"] == [0, 0, 0] and row["f1@0.5"] == 0
    # a prediction of only background against a real segment: every ground-truth segment missed
    assert f_counts(bg, gt, 0.1, bg=("bg",)) == (0, 0, 1)
    assert edit_score(bg, gt, bg=("bg",)) == 0
    # duplicate claimants of one ground-truth segment: the second is a false positive
    assert f_counts(np.array(list("aabaa")), np.array(list("aaaaa")), 0.1) == (1, 2, 0)
    with pytest.raises(ActlineError, match="prediction has 3 frames but ground truth has 10"):
        scores.add("short", gt[:3], gt)
    with pytest.raises(ActlineError, match="ground truth is empty"):
        scores.add("empty", gt[:0], gt[:0])
    with pytest.raises(ActlineError, match="nothing to score"):
        SegmentationScores().aggregate()
