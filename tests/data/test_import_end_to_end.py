"""Your recordings end to end: data import -> data inspect reads the data set -> train trains on it."""

import json

import pytest

from actline.cli import main
from actline.data.labels import segments_from_keyframes, write_segments_csv
from actline.data.synth.thermal_set import SynthConfig, generate_thermal_dataset
from actline.data.thermal_h5 import read_thermal_dataset


@pytest.mark.slow
def test_import_inspect_train(tmp_path, capsys, one_thread):
    synth = generate_thermal_dataset(tmp_path / "synth", SynthConfig(preset="realistic", n_recordings=4,
                                                                     duration_s=20.0, seed=5))
    segments = segments_from_keyframes(read_thermal_dataset(synth))
    write_segments_csv(tmp_path / "segments.csv", segments)
    data = tmp_path / "data"
    main(["data", "import", "--segments", str(tmp_path / "segments.csv"), "--frames", str(synth / "frames"),
          "--out", str(data), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert summary["recordings"] == 4 and summary["segments"] == len(segments)
    main(["data", "inspect", "--data", str(data), "--window", "16", "--json"])
    inspected = json.loads(capsys.readouterr().out)
    assert inspected["n_recordings"] == 4 and inspected["n_samples"] > 20 and inspected["format"] == "thermal-h5"
    run = tmp_path / "run"
    main(["train", "--data", str(data), "--out", str(run), "--quiet", "--set", "epochs=1", "--set", "window=16",
          "--set", "batch_size=16", "--set", "num_threads=1"])
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["n"] > 0 and 0 <= metrics["top1"] <= 100 and (run / "model" / "config.json").is_file()
