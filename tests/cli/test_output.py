"""What the command line prints for people and for scripts: the version, help text, wide tables in
logs and pipes, and ``--json`` wherever a table is printed."""

import csv
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


BOX = re.compile("[\u2500-\u257f]")  # box-drawing characters


def _inspect(synth_dir, *extra):
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    return subprocess.run([sys.executable, "-m", "actline.cli", "data", "inspect", "--data", str(synth_dir), *extra],
                          capture_output=True, text=True, env=env, check=True)


def test_piped_tables_are_plain_columns(synth_dir):
    """Piped stdout (CI logs, tee, grep) gets plain aligned columns: no box drawing, each row on one line."""
    proc = _inspect(synth_dir)
    assert not BOX.search(proc.stdout), proc.stdout
    lines = proc.stdout.splitlines()
    header = next(line for line in lines if "interval ms min-max" in line)
    assert header.split()[:3] == ["id", "group", "frames"] and "frames w/ invalid px" in header and "max °C" in header
    rows = [line for line in lines if re.match(r"TS\d+ ", line)]
    assert len(rows) == 4 and all(len(row.split()) == 10 for row in rows), rows  # every column on the row's line
    assert len({len(row) for row in rows}) == 1  # aligned: right-justified numbers end in the same column
    forced = _inspect(synth_dir, "--table", "rich")  # the boxes, when asked for
    assert BOX.search(forced.stdout)


def _blocks(text: str) -> list[list[str]]:
    return [b.splitlines() for b in text.strip().split("\n\n")]


def test_tsv_and_csv_put_the_tables_alone_on_stdout(synth_dir):
    summary = json.loads(_inspect(synth_dir, "--json").stdout)
    tsv = _inspect(synth_dir, "--table", "tsv")
    recordings, classes = _blocks(tsv.stdout)
    assert recordings[0].split("\t") == ["id", "group", "frames", "duration s", "fps (median)", "interval ms min-max",
                                         "gaps>1s", "frames w/ invalid px", "max °C", "samples"]
    rows = {r.split("\t")[0]: r.split("\t") for r in recordings[1:]}
    assert {r: int(v[2]) for r, v in rows.items()} == {r["id"]: r["frames"] for r in summary["recordings"]}
    assert classes[0].split("\t")[:2] == ["class", "all"] and len(classes) == len(summary["classes"]) + 1
    # the prose and the titles go to stderr, so stdout is the tables alone
    assert "recordings" in tsv.stderr and "labelled windows" in tsv.stderr and "labelled windows" not in tsv.stdout
    csv_out = _inspect(synth_dir, "--table", "csv")
    parsed = [list(csv.reader(block)) for block in _blocks(csv_out.stdout)]
    assert [row[:3] for row in parsed[0]] == [r.split("\t")[:3] for r in recordings]
    assert parsed[1][0][:2] == ["class", "all"]
    assert all(len(row) == len(parsed[1][0]) for row in parsed[1])


def test_score_as_csv_quotes_what_needs_it(tmp_path):
    segs = [Segment(0.0, 4.0, "mount", "mount_pipe_va", "VA"), Segment(4.0, 9.0, "wait", "wait_nva", "NVA")]
    write_segments(tmp_path / "a.csv", segs)
    proc = subprocess.run([sys.executable, "-m", "actline.cli", "score", str(tmp_path / "a.csv"),
                           str(tmp_path / "a.csv"), "--bg", "wait", "--table", "csv"],
                          capture_output=True, text=True, check=True)
    rows = list(csv.reader(proc.stdout.strip().splitlines()))
    assert rows[0] == ["", "acc %", "edit", "F1@10", "F1@25", "F1@50", "mean IoU %"]
    assert rows[-1][0] == "all" and float(rows[-1][1]) == pytest.approx(100.0)
    assert "1 timeline(s)" in proc.stderr and "background: wait" in proc.stderr


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


def test_models_say_their_pipeline_and_mark_the_defaults(capsys):
    from actline.train.config import TrainConfig
    from actline.train.timeline_fit import TimelineConfig

    main(["models", "--json"])
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["ms_tcn"]["pipeline"] == rows["temporal_mlp"]["pipeline"] == "timeline"
    assert rows["thermal_r2plus1d_lite"]["pipeline"] == rows["auto"]["pipeline"] == "clip-classifier"
    defaults = {r["pipeline"]: name for name, r in rows.items() if r["default"]}
    assert defaults == {"clip-classifier": TrainConfig().model, "timeline": TimelineConfig().temporal_model}
    main(["models"])  # piped: plain columns, the defaults starred and listed first in their pipeline
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[:3] == ["name", "pipeline", "kind"]
    assert lines[2].split()[:3] == [TrainConfig().model, "*", "clip-classifier"]
    starred = [ln.split()[0] for ln in lines if " * " in ln]
    assert starred == [TrainConfig().model, TimelineConfig().temporal_model]
