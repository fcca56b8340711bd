"""The benchmarks that build a gated model by hand run at a tiny size. The suite does not run them otherwise,
and two of them stopped working unnoticed when the code under them moved (the default window became a
dataclass, the room writer and synth's output option changed)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # ~20 s each: a random-weight network saved, exported and run
@pytest.mark.parametrize("args,rows", [
    (["streaming.py", "--sensors", "2", "--seconds", "10", "--gate"],
     ["intake alone (no model)", "ONNX Runtime, room gate, familiar room",
      "ONNX Runtime, room gate, unfamiliar room, fallback CNN and shape trees every run"]),
    (["predict_latency.py", "--repeats", "2"],
     ["network", "predict, room known", "predict, room known, unfamiliar", "/v1/predict, room kept"]),
])
def test_a_benchmark_prints_its_table_at_a_tiny_size(args, rows):
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / args[0]), *args[1:]], capture_output=True,
                          text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    printed = {line.split("|")[1].strip() for line in proc.stdout.splitlines() if line.startswith("| ")}
    assert set(rows) <= printed, proc.stdout
