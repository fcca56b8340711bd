"""What the command line prints for people and for scripts: the version, help text, wide tables in
logs and pipes, and ``--json`` wherever a table is printed."""

import json
import os
import re
import subprocess
import sys
from importlib.metadata import version

import pytest

from actline.cli import main
from actline.cli.tree import leaf_commands
from actline.data.segments import Segment, write_segments


def test_version_is_the_package_metadata(capsys):
    main(["--version"])  # returns (exit code 0) without running a command
    assert capsys.readouterr().out.strip() == f"actline {version('actline')}"


def test_help_never_calls_the_earlier_system_the_seed():
    texts = []
    for name, cmd in leaf_commands():
        texts.append((name, cmd.help or ""))
        texts += [(f"{name} {p.name}", getattr(p, "help", None) or "") for p in cmd.params]
    bad = [f"{where}: {text}" for where, text in texts if re.search(r"\bthe seed\b|\bseed's\b|\bREADME\b", text, re.I)]
    assert not bad, "help that names the earlier system 'the seed' or points into the README:\n" + "\n".join(bad)


# Commands that print a table, and the option that prints the same as JSON instead. `demo` is left out: it
# is a tour that prints several tables and writes everything it shows to its run directory.
TABLE_COMMANDS = {"actline data inspect", "actline train", "actline cv", "actline evaluate", "actline predict",
                  "actline models", "actline score", "actline train-timeline", "actline timeline",
                  "actline analyze", "actline evaluate-stream"}


def test_every_command_that_prints_a_table_has_json():
    commands = dict(leaf_commands())
    assert set(commands) >= TABLE_COMMANDS
    missing = [n for n in sorted(TABLE_COMMANDS) if not any("--json" in p.opts for p in commands[n].params)]
    assert not missing, f"commands printing a table without --json: {missing}"


def test_tables_are_not_wrapped_in_pipes(synth_dir):
    """Piped stdout (CI logs, tee) gets a wide table: each recording's row stays on one line."""
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    proc = subprocess.run([sys.executable, "-m", "actline.cli", "data", "inspect", str(synth_dir)],
                          capture_output=True, text=True, env=env, check=True)
    header = next(line for line in proc.stdout.splitlines() if "interval ms min-max" in line)
    assert "frames w/ invalid px" in header and "max °C" in header, header  # 10 columns: wrapped at 80
    rows = [line for line in proc.stdout.splitlines() if re.search(r"\bTS\d+\b", line)]
    assert rows and all(len(re.findall(r"\d+\.\d", line)) >= 2 for line in rows), rows


def test_analyze_json_is_the_summary(tmp_path, capsys):
    segs = [Segment(0.0, 4.0, "mount", "mount_pipe_va", "VA"), Segment(4.0, 5.0, "wait", "wait_nva", "NVA"),
            Segment(5.0, 9.0, "mount", "mount_pipe_va", "VA")]
    write_segments(tmp_path / "a.csv", segs)
    main(["analyze", str(tmp_path / "a.csv"), "--out", str(tmp_path / "an"), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert summary == json.loads((tmp_path / "an" / "summary.json").read_text())
    assert summary["value_categories"]["VA"]["time_s"] == pytest.approx(8.0)
    assert summary["value_categories"]["NVA"]["share"] == pytest.approx(100 / 9, abs=0.1)


@pytest.mark.slow
def test_timeline_json_lists_segments(timeline_model, rgb, tmp_path, capsys):
    video = sorted((rgb / "long").glob("*.mp4"))[0]
    main(["timeline", str(timeline_model), str(video), "--out", str(tmp_path / "tl"), "--quiet",
          "--cache", str(rgb / "cache"), "--json"])
    (row,) = json.loads(capsys.readouterr().out)
    assert row["input"] == str(video) and row["n_segments"] == len(row["segments"]) > 0
    written = json.loads((tmp_path / "tl" / f"{video.stem}.json").read_text())
    assert [s["label"] for s in row["segments"]] == [s["label"] for s in written["segments"]]
    assert sum(row["value_category_shares"].values()) == pytest.approx(100, abs=0.5)
