import numpy as np
import pytest

from actline.core.errors import ActlineError
from actline.data.clips import LabelRule, find_clips, label_summary, parse_label
from actline.data.video import write_video


@pytest.mark.parametrize("name,coarse,fine,value", [
    ("mount_o_ring_to_pipe_va", "mount", "mount_o_ring_to_pipe_va", "VA"),
    ("Hand_Tight nipple-to-pipe_va", "hand", "hand_tight_nipple_to_pipe_va", "VA"),
    ("inspect_pipe_rnva", "inspect", "inspect_pipe_rnva", "RNVA"),
    ("wait_idle_nva", "wait", "wait_idle_nva", "NVA"),
    ("read_gauge", "read", "read_gauge", None),
    ("nva", "nva", "nva", None),  # a lone token is a label, not a suffix
])
def test_first_word_rule(name, coarse, fine, value):
    p = parse_label(name)
    assert (p.coarse, p.fine, p.value_category) == (coarse, fine, value)


def test_rule_is_configurable():
    p = parse_label("pipe-mount-oring-va", LabelRule(separator="-", coarse_token=1))
    assert (p.coarse, p.fine, p.value_category) == ("mount", "pipe-mount-oring-va", "VA")
    last = parse_label("o_ring_mount_va", LabelRule(coarse_token=-1))
    assert last.coarse == "mount"
    with pytest.raises(ActlineError, match="no token 5"):
        parse_label("a_b", LabelRule(coarse_token=5))


def test_find_clips_layout_and_warnings(tmp_path):
    frames = [np.zeros((16, 16, 3), np.uint8)] * 4
    for label in ("mount_a_va", "mount_b_va", "read_gauge"):
        write_video(tmp_path / label / "c1.mp4", frames, fps=8)
    (tmp_path / "empty_dir_va").mkdir()
    (tmp_path / "mount_a_va" / "notes.txt").write_text("not a clip")
    msgs = []
    clips = find_clips(tmp_path, log=msgs.append)
    assert len(clips) == 3
    assert len(msgs) == 1 and "read_gauge" in msgs[0] and "no value suffix" in msgs[0]
    s = label_summary(clips)
    assert s["families"] == {"mount": ["mount_a_va", "mount_b_va"], "read": ["read_gauge"]}


def test_no_clips_is_an_error(tmp_path):
    (tmp_path / "x_va").mkdir()
    with pytest.raises(ActlineError, match="no clips found"):
        find_clips(tmp_path)
    with pytest.raises(ActlineError, match="clip folder not found"):
        find_clips(tmp_path / "missing")
