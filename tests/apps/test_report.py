"""The HTML report: self-contained, complete, and its timeline player answers to seeking in a real browser."""

import os
import re
from pathlib import Path

import pytest

from actline.apps.html_report import build_report

from .browser import chromium

ARTIFACTS = Path(os.environ.get("ACTLINE_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))


@pytest.fixture(scope="module")
def training_run(synth_dir, tmp_path_factory):
    from actline.runs.clip_run import train_run
    from actline.train.config import load_config

    out = tmp_path_factory.mktemp("run") / "run"
    cfg = load_config(None, ["epochs=2", "window=16", "batch_size=32", "num_threads=1"])
    train_run(synth_dir, out, cfg)
    return out


def _no_network(text: str) -> None:
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), "the report must not load anything from the network"


def test_training_run_report_is_complete_and_self_contained(training_run, tmp_path, capsys):
    from actline.cli import main

    main(["report", str(training_run), "--out", str(tmp_path / "r.html")])
    assert "wrote" in capsys.readouterr().out
    text = (tmp_path / "r.html").read_text()
    _no_network(text)
    for needle in ("id=metrics", "majority", "chance", "classical", "id=per-class", "Training curves",
                   "Confusion matrix", "id=examples", "data:image/png;base64,"):
        assert needle in text, needle
    assert re.search(r"\d+\.\d \[\d+–\d+\]", text)  # a figure with its interval


def test_report_refuses_what_it_cannot_show(tmp_path, timeline_model):
    from actline.core.errors import ActlineError

    with pytest.raises(ActlineError, match="not a training run"):
        build_report(tmp_path, tmp_path / "x.html")
    with pytest.raises(ActlineError, match="needs --video"):
        build_report(timeline_model, tmp_path / "x.html")
    assert not (tmp_path / "x.html").exists()


def test_timeline_player_in_headless_chromium(timeline_model, rgb, tmp_path):
    video = rgb / "long" / "video_01.mp4"
    html_path = build_report(timeline_model, tmp_path / "timeline.html", video=video)
    text = html_path.read_text()
    _no_network(text)
    assert "data:video/webm;base64," in text
    browser = chromium()
    try:
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.by import By

        browser.get(html_path.as_uri())
        segs = browser.find_elements(By.CSS_SELECTOR, "#bar .seg")
        assert len(segs) >= 5
        browser.execute_script("""const v = document.getElementById('player');
            return new Promise(r => v.readyState >= 1 ? r() : v.addEventListener('loadedmetadata', r));""")
        duration = browser.execute_script("return document.getElementById('player').duration")
        assert duration == pytest.approx(50, abs=1)
        bar = browser.find_element(By.ID, "bar")
        timeline = [(float(s["start_s"]), float(s["end_s"])) for s in
                    browser.execute_script("return JSON.parse(document.getElementById('segments').textContent)")]
        for frac in (0.2, 0.75):
            ActionChains(browser).move_to_element_with_offset(bar, int(bar.size["width"] * (frac - 0.5)), 0).click().perform()
            browser.execute_script("""const v = document.getElementById('player');
                return new Promise(r => v.seeking ? v.addEventListener('seeked', r, {once: true}) : r());""")
            t = browser.execute_script("return document.getElementById('player').currentTime")
            assert t == pytest.approx(frac * duration, abs=1.0)
            want = next(i for i, (a, b) in enumerate(timeline) if a <= t < b)
            now = browser.find_element(By.ID, "now")
            assert int(now.get_attribute("data-segment")) == want
            current = browser.find_elements(By.CSS_SELECTOR, "#bar .seg.current")
            assert len(current) == 1 and current[0] == segs[want]
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "timeline_report.png"))
        assert (ARTIFACTS / "timeline_report.png").stat().st_size > 10_000
    finally:
        browser.quit()
