"""Old spellings keep working for one release, each with one line on stderr saying what to write instead."""

from __future__ import annotations

import json

import pytest

from actline.cli import main
from actline.cli.command import modernize
from actline.cli.tree import leaf_commands

SUFFIX = " (the old spelling stops working in the next release)"


def _notices(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.startswith("deprecated: ")]


def test_synth_directory_as_an_argument_and_force(tmp_path, capsys):
    out = tmp_path / "d"
    main(["synth", str(out), "--recordings", "2", "--duration", "20"])
    captured = capsys.readouterr()
    assert (out / "annotations" / "train.json").is_file() and f"wrote {out}" in captured.out
    assert captured.err.splitlines() == [f"deprecated: write --out {out}, not {out} alone{SUFFIX}"]
    main(["synth", "--out", str(out), "--recordings", "3", "--duration", "20", "--force"])  # replaces it
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [f"deprecated: write --overwrite, not --force{SUFFIX}"]
    assert len(list((out / "frames").glob("*.h5"))) == 3


def test_synth_video_directory_as_an_argument_and_force(tmp_path, capsys):
    out = tmp_path / "v"
    out.mkdir()
    (out / "old.txt").write_text("replaced")
    main(["synth-video", str(out), "--clips-per-action", "1", "--long-videos", "0", "--long-seconds", "2", "--force",
          "--quiet"])
    captured = capsys.readouterr()
    assert sorted(_notices(captured.err)) == [f"deprecated: write --out {out}, not {out} alone{SUFFIX}",
                                              f"deprecated: write --overwrite, not --force{SUFFIX}"]
    assert len(list((out / "clips").rglob("*.mp4"))) == 7 and not (out / "old.txt").exists()


def test_data_inspect_data_set_as_an_argument(synth_dir, capsys):
    main(["data", "inspect", str(synth_dir), "--json"])
    captured = capsys.readouterr()
    assert json.loads(captured.out)["n_recordings"] == 4
    assert captured.err.splitlines() == [f"deprecated: write --data {synth_dir}, not {synth_dir} alone{SUFFIX}"]


def test_train_timeline_data_as_an_argument(tmp_path, capsys):
    """The positional data set is taken as --data: the run gets as far as finding no clips in it."""
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as exc:
        main(["train-timeline", str(tmp_path / "empty"), "--out", str(tmp_path / "m"), "--quiet"])
    err = capsys.readouterr().err.splitlines()
    assert exc.value.code == 2 and err[0] == f"deprecated: write --data {tmp_path / 'empty'}, not " \
                                             f"{tmp_path / 'empty'} alone{SUFFIX}"
    assert len(err) == 2 and "no clips found" in err[1]


def test_evaluate_stream_data_after_the_model(tmp_path, capsys):
    """MODEL DATA: the second argument becomes --data (the missing model is what stops it, not the arguments)."""
    with pytest.raises(SystemExit) as exc:
        main(["evaluate-stream", str(tmp_path / "model"), str(tmp_path / "data"), "--quiet"])
    err = capsys.readouterr().err.splitlines()
    assert exc.value.code == 2 and err[0] == f"deprecated: write --data {tmp_path / 'data'}, not " \
                                             f"{tmp_path / 'data'} alone{SUFFIX}"
    assert len(err) == 2 and str(tmp_path / "model") in err[1] and "extra argument" not in err[1]


@pytest.mark.parametrize("name, flag", [(n, o) for n, c in leaf_commands() for p in c.params
                                        if getattr(p, "is_flag", False) for o in p.opts])
def test_no_twins_of_flags_are_dropped_with_a_notice(name, flag, capsys):
    """``--no-quiet``, ``--no-overwrite``, ... (the default anyway) still parse, as nothing."""
    cmd = dict(leaf_commands())[name]
    old = "--no-" + flag[2:]
    assert modernize(cmd, [old, "--no-such-thing"]) == ["--no-such-thing"]  # an unknown option is click's to refuse
    assert capsys.readouterr().err.splitlines() == [f"deprecated: leave out {old}: leaving out {flag} means the same"
                                                    f"{SUFFIX}"]


def test_current_spellings_pass_untouched(capsys):
    cmd = dict(leaf_commands())["actline evaluate-stream"]
    args = ["MODEL", "--data", "D", "--alert", "--force=1", "--", "--no-quiet"]  # option values and after -- are values
    assert modernize(cmd, args) == args and not capsys.readouterr().err


def test_a_moved_argument_goes_before_a_double_dash(capsys):
    cmd = dict(leaf_commands())["actline data inspect"]
    assert modernize(cmd, ["--", "DIR"]) == ["--data", "DIR", "--"]
    assert _notices(capsys.readouterr().err) == [f"deprecated: write --data DIR, not DIR alone{SUFFIX}"]
