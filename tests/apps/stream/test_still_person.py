"""A person who falls and then lies still for 10 minutes stays in the `lying ... risk` state, alerted, throughout.

A per-pixel median over the last minutes absorbs the still person after about half its span, and the
state (and with it the alert) ends: the case a care home buys the sensor for.
"""

from actline.apps.stream import StreamConfig, StreamingRecognizer

from .still import FPS, RISK, fall_recording, rule_recognizer


def test_a_still_person_stays_lying_with_risk_and_alerted_for_ten_minutes():
    frames, times, rest = fall_recording(lie_s=600.0)
    sr = StreamingRecognizer(rule_recognizer(), StreamConfig(every_frames=8, alerts={RISK: 10.0}))
    events = [e for f, t in zip(frames, times) for e in sr.push(f, float(t))]
    states = [e for e in events if e.kind == "state"]
    entered = next(e for e in states if e.label == RISK)
    assert entered.t < rest + 15.0  # the lying state is found within a few windows of the fall
    after = [e for e in states if e.t > entered.t]
    assert after == [], f"left the lying state at {[(round(e.t), e.label) for e in after]} (rest at {rest} s)"
    alerts = [e for e in events if e.kind == "alert"]
    assert len(alerts) == 1 and alerts[0].label == RISK and alerts[0].t <= entered.t + 10.0 + 8 / FPS + 1e-6  # at the first run 10 s in
    assert times[-1] - rest >= 599.0 and sr.state == RISK  # the whole 10 minutes, still lying at the end
