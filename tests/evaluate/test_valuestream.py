import pytest

from actline.data.segments import Segment
from actline.evaluate.valuestream import analyze, write_report


def test_shares_counts_and_cycle_times(tmp_path):
    tl = {"a": [Segment(0, 10, "mount", "mount_x_va", "VA"), Segment(10, 15, "inspect", "inspect_pipe_rnva", "RNVA"),
                Segment(15, 25, "mount", "mount_x_va", "VA"), Segment(25, 30, "wait", "wait_idle_nva", "NVA"),
                Segment(30, 40, "mount", "mount_x_va", "VA")],
          "b": [Segment(0, 20, "read", "read_gauge", None)]}
    s = analyze(tl)
    assert s["total_s"] == 60
    assert s["value_categories"]["VA"] == {"time_s": 30, "share": 50.0}
    assert s["value_categories"]["none"]["share"] == pytest.approx(100 / 3)
    m = s["steps"]["mount_x_va"]
    assert m["count"] == 3 and m["duration"]["mean_s"] == 10 and m["cycle_time"]["mean_s"] == 15
    assert s["per_timeline"]["a"]["VA_share"] == 75.0
    written = write_report(s, tl, tmp_path / "out")
    assert {p.name for p in written} == {"summary.json", "steps.csv", "timelines.png"}
    assert (tmp_path / "out" / "steps.csv").read_text().splitlines()[1].startswith("mount_x_va,mount,VA,3,30.00")
