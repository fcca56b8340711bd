import json
import subprocess
import sys

import pytest

from actline.cli import main


def test_synth_then_inspect(tmp_path, capsys):
    out = tmp_path / "d"
    main(["synth", "--out", str(out), "--recordings", "3", "--duration", "30", "--seed", "2"])
    assert (out / "annotations" / "train.json").exists()
    said = capsys.readouterr().out.splitlines()
    assert said[0].startswith(f"wrote {out} (3 recordings of 30 s")  # what it wrote, then what to run next
    assert said[1] == f"next: actline data inspect --data {out}, then actline train --data {out} --out RUN"
    main(["data", "inspect", "--data", str(out), "--json", "--montage", str(tmp_path / "m.png")])
    text = capsys.readouterr().out
    summary = json.loads(text)
    assert summary["n_recordings"] == 3 and summary["format"] == "thermal-h5"
    assert summary["splits"]["given"]["overlapping_eval"] > 0
    assert "WARNING" in summary["splits"]["given"]["warning"]
    assert summary["splits"]["by-recording"]["overlapping_eval"] == 0
    assert (tmp_path / "m.png").read_bytes()[:4] == b"\x89PNG"


def test_errors_exit_nonzero_with_one_line(tmp_path):
    missing = tmp_path / "nope"
    proc = subprocess.run([sys.executable, "-m", "actline.cli", "data", "inspect", "--data", str(missing)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and str(missing) in lines[0] and "not found" in lines[0]


def test_synth_refuses_to_overwrite(tmp_path, capsys):
    (tmp_path / "d").mkdir()
    with pytest.raises(SystemExit) as exc:
        main(["synth", "--out", str(tmp_path / "d")])
    assert exc.value.code == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'd'}: already exists (add --overwrite to replace it)"


@pytest.mark.slow
def test_demo_end_to_end_small(tmp_path, capsys):
    main(["demo", "--out", str(tmp_path / "demo"), "--recordings", "4", "--duration", "40", "--set", "epochs=2"])
    text = capsys.readouterr().out
    assert "majority" in text and "classical" in text and "held-out recording" in text
    assert (tmp_path / "demo" / "run" / "metrics.json").exists()
    assert (tmp_path / "demo" / "run" / "model" / "model.safetensors").exists()


def test_usage_errors_are_short_and_exit_2():
    proc = subprocess.run([sys.executable, "-m", "actline.cli", "train", "--bogus"], capture_output=True, text=True)
    assert proc.returncode == 2 and "No such option" in proc.stderr and "Traceback" not in proc.stderr
