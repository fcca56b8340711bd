"""Event matching as CONVENTIONS.md fixes it: detection window, delay, false alarms outside events."""

import numpy as np
import pytest

from actline.metrics.events import false_fall_windows, is_alarm_class, pool, runs, score_recording


def test_detection_delay_and_false_alarms():
    events = [(10.0, 14.0), (30.0, 31.0)]
    alerts = [5.0, 12.0, 13.0, 35.9, 50.0]  # before, detects #1, a second alert in #1, detects #2 in the grace, late
    s = score_recording(events, alerts, duration_s=100.0)
    assert s["detected"] == 2 and s["delays_s"] == [2.0, pytest.approx(5.9)]
    assert s["false_alarms"] == 3  # every other alert start, the duplicate inside #1 included
    assert s["hours_outside"] == pytest.approx((100 - 4 - 1) / 3600)
    missed = score_recording(events, [36.5], duration_s=100.0)  # 5.5 s after the end: too late
    assert missed["detected"] == 0 and missed["false_alarms"] == 1


def test_one_alert_detects_one_event_and_overlaps_count_once():
    s = score_recording([(0.0, 10.0), (8.0, 12.0)], [9.0], duration_s=20.0)
    assert s["detected"] == 1 and s["false_alarms"] == 0
    assert s["hours_outside"] == pytest.approx(8 / 3600)


def test_pooling_over_recordings():
    a = score_recording([(0.0, 1.0)], [0.5], 3600.0)
    b = score_recording([(0.0, 1.0), (100.0, 101.0)], [2000.0], 3600.0)
    p = pool([a, b])
    assert p["events"] == 3 and p["detected"] == 1 and p["recall"] == pytest.approx(100 / 3)
    assert p["false_alarms"] == 1 and p["false_alarms_per_hour"] == pytest.approx(1 / ((7200 - 3) / 3600))
    assert p["delay_median_s"] == 0.5
    assert pool([])["recall"] is None


def test_runs_of_a_label():
    t = np.arange(8) * 0.5
    assert runs(np.array([0, 1, 1, 0, 1, 1, 1, 2]), t, 1) == [(0.5, 1.0), (2.0, 3.0)]
    assert runs(np.array([0, 0]), t[:2], 1) == []


def test_windows_of_other_classes_read_as_a_fall_per_location():
    classes = ["sitting", "lying down-lying with risk", "transition-lying with risk transition", "lying in bed"]
    assert [is_alarm_class(c) for c in classes] == [False, True, True, False] and is_alarm_class("falling1")
    y = np.array([0, 0, 3, 3, 1, 2, 0, 3])
    pred = np.array([1, 0, 2, 3, 0, 1, 0, 0])  # A: sitting read as a fall, bed read as the fall's transition
    loc = ["A", "A", "A", "A", "A", "B", "B", "B"]  # B: its fall windows are not counted, nothing else read as one
    f = false_fall_windows(y, pred, classes, loc, {"majority": np.zeros(8, int)})
    assert f["alarm_classes"] == classes[1:3] and f["windows"] == 6 and f["share"] == pytest.approx(100 * 2 / 6, abs=0.01)
    assert f["by_location"] == {"A": {"share": 50.0, "windows": 4}, "B": {"share": 0.0, "windows": 2}}
    assert f["worst_location"] == "A" and f["baselines"] == {"majority": 0.0}
    assert false_fall_windows(y, pred, ["a", "b", "c", "d"], loc) is None  # no class alarms
    assert false_fall_windows(np.array([1, 2]), np.array([0, 0]), classes, ["A", "A"]) is None  # only falls held out
