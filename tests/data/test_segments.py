import json

import pytest

from actline.cli import main
from actline.core.errors import ActlineError
from actline.data.segments import (
    Segment,
    frames_to_segments,
    load_labels,
    read_segments,
    segments_to_frames,
    write_segments,
)


def test_round_trips(tmp_path):
    segs = [Segment(0.0, 1.5, "walk"), Segment(1.5, 2.0, "sit", fine="sit_chair", value_category="VA", confidence=0.9)]
    for name in ("t.json", "t.csv"):
        back = read_segments(write_segments(tmp_path / name, segs))
        assert [(s.start_s, s.end_s, s.label) for s in back] == [(0.0, 1.5, "walk"), (1.5, 2.0, "sit")]
        assert back[1].fine == "sit_chair" and back[1].value_category == "VA"
    frames = segments_to_frames(segs, fps=10)
    assert frames.tolist() == ["walk"] * 15 + ["sit"] * 5
    assert [(s.start_s, s.end_s, s.label) for s in frames_to_segments(frames, 10)] == [(0.0, 1.5, "walk"), (1.5, 2.0, "sit")]


def test_bad_timeline_files(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("start_s,end_s,label\n0,abc,walk\n")
    with pytest.raises(ActlineError, match="x.csv: line 2"):
        read_segments(p)
    p.write_text("start_s,end_s,label\n0,2,walk\n1,3,sit\n")
    with pytest.raises(ActlineError, match="before the previous one ends"):
        read_segments(p)
    q = tmp_path / "x.srt"
    q.write_text("1\n")
    with pytest.raises(ActlineError, match="unknown timeline format"):
        load_labels(q, 10)


def test_score_cli_files_and_directories(tmp_path, capsys):
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    gt_dir.mkdir(), pred_dir.mkdir()
    (gt_dir / "v1.txt").write_text("\n".join(["a"] * 10 + ["b"] * 10))
    (pred_dir / "v1.txt").write_text("\n".join(["a"] * 12 + ["b"] * 8))
    write_segments(gt_dir / "v2.csv", [Segment(0, 1, "a"), Segment(1, 2, "b")])
    write_segments(pred_dir / "v2.json", [Segment(0, 1, "a"), Segment(1, 2, "b")])
    main(["score", str(pred_dir), str(gt_dir), "--fps", "10", "--json"])
    res = json.loads(capsys.readouterr().out)
    assert res["per_video"]["v1.txt"]["acc"] == pytest.approx(90.0)
    assert res["per_video"]["v2.json"]["acc"] == 100.0
    assert res["aggregate"]["acc"] == pytest.approx(100 * 38 / 40)
    assert res["aggregate"]["f1@0.5"] == 100.0
    (pred_dir / "v1.txt").write_text("a\n")
    with pytest.raises(SystemExit) as exc:
        main(["score", str(pred_dir / "v1.txt"), str(gt_dir / "v1.txt")])
    assert exc.value.code == 2
    assert "prediction has 1 frames but ground truth has 20" in capsys.readouterr().err.replace("\n", " ")


def test_srt_writer(tmp_path):
    path = write_segments(tmp_path / "t.srt", [Segment(0.0, 1.25, "mount", fine="mount_o_ring_to_pipe_va",
                                                       value_category="VA"), Segment(3661.5, 3662.0, "wait")])
    text = path.read_text()
    assert text.startswith("1\n00:00:00,000 --> 00:00:01,250\nmount / mount_o_ring_to_pipe_va [VA]\n")
    assert "2\n01:01:01,500 --> 01:01:02,000\nwait\n" in text


def test_the_one_frame_mapping_gives_each_frame_the_chunk_nearest_in_time():
    """Per-chunk labels → frames: a frame takes the label of the chunk whose centre is nearest its instant
    (boundaries halfway between centres), on a recording's own irregular timestamps; the same frames as
    the segments a timeline holds, mapped with ``segments_to_frames``."""
    import numpy as np

    from actline.data.chunks import chunk_starts
    from actline.data.segments import step_bounds, steps_to_frames, steps_to_segments

    rng = np.random.default_rng(0)
    n, chunk, stride = 97, 16, 4
    ts = np.cumsum(rng.uniform(0.08, 0.12, n))
    ts -= ts[0]
    starts = chunk_starts(n, chunk, stride)
    times = np.stack([ts[starts], ts[np.minimum(starts + chunk, n) - 1] + 0.1], 1)
    labels = np.repeat(rng.integers(0, 3, len(starts) // 3 + 1), 3)[:len(starts)]
    names = ["a", "b", "c"]
    frames = steps_to_frames(labels, times, ts, names)
    centres = times.mean(1)
    nearest = np.abs(ts[:, None] - centres[None]).argmin(1)
    assert frames.tolist() == [names[k] for k in labels[nearest]]
    segs = steps_to_segments(labels, times, names)
    assert segments_to_frames(segs, times=ts).tolist() == frames.tolist()
    bounds = step_bounds(times)
    assert segs[0].start_s == 0 and segs[-1].end_s == bounds[-1] > ts[-1]  # every frame is covered
