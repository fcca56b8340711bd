"""A timeline model directory records its split (``split.json``) as a classifier run does: which clips or
recordings, and which sample ids, trained and which were held out."""

import json

from actline.data.nagoya import read_nagoya
from actline.features.backbone import build_backbone
from actline.features.cache import FeatureCache
from actline.modeldir.directory import CHECKSUMS
from actline.train.timeline_data import open_source, recording_data
from actline.train.timeline_fit import TimelineConfig


def test_clip_run_records_the_held_out_clips(timeline_model, rgb):
    split = json.loads((timeline_model / "split.json").read_text())
    assert "split.json" in json.loads((timeline_model / CHECKSUMS).read_text())  # verified with the model
    clips = sorted(f"{p.parent.name}/{p.name}" for p in (rgb / "clips").glob("*/*.mp4"))
    train, held = split["train"]["samples"], split["eval"]["samples"]
    assert len(clips) == 42 and sorted(train + held) == clips and not set(train) & set(held)
    assert split["train"]["recordings"] == sorted(train) and split["eval"]["recordings"] == sorted(held)
    assert split["train"]["locations"] == split["eval"]["locations"] == []
    # val_fraction 0.25, stratified by fine label: round(6 * 0.25) = 2 of each label's 6 clips held out
    held_labels = [h.split("/")[0] for h in held]
    assert sorted(set(held_labels)) == sorted({c.split("/")[0] for c in clips})
    assert all(held_labels.count(lab) == 2 for lab in held_labels)
    assert {k: split[k] for k in ("name", "n_train", "n_eval", "overlapping_eval", "shared_recordings", "warning")} \
        == {"name": "clips-stratified", "n_train": 28, "n_eval": 14, "overlapping_eval": 0, "shared_recordings": [],
            "warning": None}


def test_recording_run_records_whole_recordings_and_their_samples(thermal_timeline_model):
    root = thermal_timeline_model.parent
    ds = read_nagoya(root / "nag", unlabelled="none")
    # the fixture trained with val_fraction 0: everything on the training side
    split = json.loads((thermal_timeline_model / "split.json").read_text())
    assert split["name"] == "recordings-random" and split["eval"] == {"recordings": [], "locations": [], "samples": []}
    assert split["train"] == {"recordings": sorted(ds.recordings), "locations": ["20170101"],
                              "samples": [s.id for s in ds.samples]}
    # half held out: one whole recording on each side, each with exactly its own samples
    cfg = TimelineConfig(backbone=str(root / "enc"), weights=None, stride=8, val_fraction=0.5)
    td = recording_data(open_source(root / "nag", cfg), cfg, build_backbone(cfg.backbone, None),
                        FeatureCache(root / "cache"), None)
    side = {name: td.split[name]["recordings"] for name in ("train", "eval")}
    assert sorted(side["train"] + side["eval"]) == sorted(ds.recordings) and len(side["eval"]) == 1
    for name in ("train", "eval"):
        assert td.split[name]["samples"] == [s.id for s in ds.samples if s.recording_id in side[name]]
        assert td.split[name]["samples"]
    assert td.split["n_eval"] == len(td.split["eval"]["samples"]) and td.split["overlapping_eval"] == 0
