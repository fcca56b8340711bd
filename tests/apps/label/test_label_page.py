"""The label page in a real headless Chromium: mark, save, reload, undo; review answers; two tabs saving in turn."""

import time

import pytest

from actline.data.labels import read_segments_csv
from actline.data.labels.review_queue import read_items
from actline.data.thermal_h5 import read_thermal_dataset

from ..browser import chromium


@pytest.fixture
def browser():
    b = chromium()
    b.set_script_timeout(20)
    yield b
    b.quit()


def wait_for(browser, script: str, timeout: float = 10.0):
    """Poll ``return <script>`` in the page until it is truthy; its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = browser.execute_script("return " + script)
        if value:
            return value
        if time.monotonic() > deadline:
            logs = [e["message"] for e in browser.get_log("browser")]
            raise AssertionError(f"timed out waiting for {script!r}; console: {logs}")
        time.sleep(0.05)


def open_page(browser, url: str) -> None:
    browser.get(url)
    wait_for(browser, "document.body.dataset.shownFrame !== undefined && LP.app.name === 'SL14_R1'")


def rows(browser, name="SL14_R1"):
    return browser.execute_script(f"return LP.app.edits['{name}'].segs.rows()")


def timeline_at(browser, t: float):
    """An action chain moved to time t on the timeline (the middle of its segment lane)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    tl = browser.find_element(By.ID, "timeline")
    v0, v1 = browser.execute_script("return [LP.app.timeline.v0, LP.app.timeline.v1]")
    x = (t - v0) / (v1 - v0) * tl.size["width"] - tl.size["width"] / 2
    return ActionChains(browser).move_to_element_with_offset(tl, int(round(x)), 15)


def keys(browser, *sequence):
    from selenium.webdriver.common.action_chains import ActionChains

    chain = ActionChains(browser)
    for k in sequence:
        if isinstance(k, tuple):  # (modifier, ..., key)
            for mod in k[:-1]:
                chain = chain.key_down(mod)
            chain = chain.send_keys(k[-1])
            for mod in reversed(k[:-1]):
                chain = chain.key_up(mod)
        else:
            chain = chain.send_keys(k)
    chain.perform()


def test_mark_save_reload_and_undo(label_server, labelled_data, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    open_page(browser, label_server.url)
    assert rows(browser) == [[1.0, 4.0, "idle"]]
    assert "timestamp_s 1700000000.000" in browser.find_element(By.ID, "clock").text
    heat = browser.find_element(By.ID, "heat")  # the dead pixel in the corner, then the warm blob near it
    ActionChains(browser).move_to_element_with_offset(heat, -heat.size["width"] // 2 + 3, -heat.size["height"] // 2 + 3).perform()
    assert "row 0, column 0: dead pixel" in browser.find_element(By.ID, "pointer").text
    ActionChains(browser).move_to_element_with_offset(heat, -heat.size["width"] // 2 + 25, -heat.size["height"] // 2 + 25).perform()
    assert "°C" in browser.find_element(By.ID, "pointer").text

    # mark with the keyboard: class 2 (walk), M at 6 s, M at 9 s
    keys(browser, "2")
    timeline_at(browser, 6.0).click().perform()
    wait_for(browser, "Math.abs(LP.app.player.t - 6.0) < 0.1")
    keys(browser, "m")
    timeline_at(browser, 9.0).click().perform()
    wait_for(browser, "Math.abs(LP.app.player.t - 9.0) < 0.1")
    keys(browser, "m")
    assert rows(browser)[0] == [1.0, 4.0, "idle"]
    marked = rows(browser)[1]
    assert marked[2] == "walk" and marked[0] == pytest.approx(6.0, abs=0.1) and marked[1] == pytest.approx(9.0, abs=0.1)
    assert "unsaved" in browser.find_element(By.ID, "status").text
    keys(browser, (Keys.CONTROL, "s"))
    wait_for(browser, "document.getElementById('status').textContent === 'saved'")
    saved = [(s.recording, s.label) for s in read_segments_csv(labelled_data / "annotations" / "segments.csv")]
    assert saved == [("SL14_R1", "idle"), ("SL14_R1", "walk")]
    ds = read_thermal_dataset(labelled_data)
    walk_frames = [s.frame_idx for s in ds.samples if s.recording_id == "SL14_R1" and ds.classes[s.label] == "walk"]
    times = ds.recordings["SL14_R1"].timestamps - ds.recordings["SL14_R1"].timestamps[0]
    assert walk_frames and all(marked[0] <= times[i] < marked[1] for i in walk_frames)

    browser.refresh()  # the segment is there after a reload
    open_page(browser, label_server.url)
    assert rows(browser)[1] == pytest.approx(marked)

    # drag a new segment, move an edge, delete one: each undone with Ctrl+Z, redone with Ctrl+Shift+Z
    keys(browser, "3")
    timeline_at(browser, 12.0).click_and_hold().perform()
    timeline_at(browser, 15.0).release().perform()
    assert len(rows(browser)) == 3 and rows(browser)[2][2] == "fall"
    assert rows(browser)[2][:2] == pytest.approx([12.0, 15.0], abs=0.15)
    timeline_at(browser, marked[1]).click_and_hold().perform()  # the walk segment's end edge
    timeline_at(browser, 10.5).release().perform()
    assert rows(browser)[1][1] == pytest.approx(10.5, abs=0.15)
    timeline_at(browser, 2.5).click().perform()  # select the idle segment, delete it
    keys(browser, Keys.DELETE)
    assert [r[2] for r in rows(browser)] == ["walk", "fall"]
    keys(browser, (Keys.CONTROL, "z"))
    assert [r[2] for r in rows(browser)] == ["idle", "walk", "fall"]
    keys(browser, (Keys.CONTROL, "z"))
    assert rows(browser)[1][1] == pytest.approx(marked[1])
    keys(browser, (Keys.CONTROL, "z"))
    assert len(rows(browser)) == 2 and browser.find_element(By.ID, "save").get_attribute("disabled")
    keys(browser, (Keys.CONTROL, Keys.SHIFT, "z"))
    assert len(rows(browser)) == 3

    # a new class: typed in, then given to the selected segment, saved into the data set's classes
    timeline_at(browser, 13.5).click().perform()
    browser.find_element(By.ID, "new-class").send_keys("sit down\n")
    assert rows(browser)[2][2] == "sit down"
    keys(browser, (Keys.CONTROL, "s"))
    wait_for(browser, "document.getElementById('status').textContent === 'saved'")
    assert read_thermal_dataset(labelled_data).classes == ["idle", "walk", "fall", "sit down"]


def test_dragging_a_segment_moves_it_whole_and_undo_puts_it_back(label_server, labelled_data, browser):
    from selenium.webdriver.common.keys import Keys

    open_page(browser, label_server.url)
    assert rows(browser) == [[1.0, 4.0, "idle"]]
    timeline_at(browser, 2.5).click_and_hold().perform()  # the middle of the idle segment, 3 s to the right
    timeline_at(browser, 5.5).release().perform()
    (moved,) = rows(browser)
    assert moved[2] == "idle" and moved[1] - moved[0] == pytest.approx(3.0, abs=1e-6)  # same length
    assert moved[0] == pytest.approx(4.0, abs=0.15)
    keys(browser, (Keys.CONTROL, "s"))
    wait_for(browser, "document.getElementById('status').textContent === 'saved'")
    (saved,) = read_segments_csv(labelled_data / "annotations" / "segments.csv")
    assert (saved.start_s, saved.end_s) == pytest.approx((moved[0], moved[1]), abs=1e-3)
    keys(browser, (Keys.CONTROL, "z"))
    assert rows(browser) == [[1.0, 4.0, "idle"]]


def test_review_confirm_and_correct_become_segments(label_server, labelled_data, review_dir, browser):
    from selenium.webdriver.common.by import By

    open_page(browser, label_server.url)
    browser.find_element(By.ID, "tab-review").click()
    wait_for(browser, "LP.app.review.current && LP.app.review.current.item.top3[0][0] === 'walk'")
    assert "62.0 %" in browser.find_element(By.ID, "top3").text
    first, second = [i.id for i in read_items(review_dir)]
    keys(browser, "\n")  # Enter: confirm the model's top class
    wait_for(browser, "LP.app.review.current && LP.app.review.current.item.top3[0][0] === 'fall'")
    keys(browser, "1")  # correct the second to class 1, idle
    wait_for(browser, "LP.app.review.items.length === 0 && LP.app.review.answered.length === 2")
    answers = {i.id: i.answer for i in read_items(review_dir, answered=True)}
    assert answers == {first: "walk", second: "idle"}
    segs = {s.recording: s.label for s in read_segments_csv(labelled_data / "annotations" / "segments.csv")}
    assert segs[f"SL20_bed0_{first}"] == "walk" and segs[f"SL20_bed1_{second}"] == "idle"
    ds = read_thermal_dataset(labelled_data)
    assert {ds.classes[s.label] for s in ds.samples if s.recording_id == f"SL20_bed1_{second}"} == {"idle"}
    names = [li.get_attribute("data-name") for li in browser.find_elements(By.CSS_SELECTOR, "#recording-list li")]
    assert f"SL20_bed0_{first}" in names and f"SL20_bed1_{second}" in names
    # the page followed the data set's version: a save from it is not stale
    browser.find_element(By.ID, "tab-label").click()
    browser.execute_script("LP.app.edits['SL14_R1'].segs.add(12, 13, 'fall')")
    browser.find_element(By.ID, "save").click()
    wait_for(browser, "document.getElementById('status').textContent === 'saved'")


def test_a_stale_tab_cannot_overwrite_and_loses_nothing_after_reload(label_server, labelled_data, browser):
    from selenium.webdriver.common.by import By

    csv = labelled_data / "annotations" / "segments.csv"
    open_page(browser, label_server.url)
    first = browser.current_window_handle
    browser.switch_to.new_window("tab")
    open_page(browser, label_server.url)
    second = browser.current_window_handle

    browser.switch_to.window(first)
    browser.execute_script("LP.app.edits['SL14_R1'].segs.add(6, 8, 'walk')")
    browser.find_element(By.ID, "save").click()
    wait_for(browser, "document.getElementById('status').textContent === 'saved'")
    after_first = csv.read_bytes()

    browser.switch_to.window(second)  # loaded before the first tab saved
    browser.execute_script("LP.app.edits['SL14_R1'].segs.add(10, 12, 'fall')")
    browser.execute_script("LP.app.edits['SL14_R1'].segs.remove(LP.app.edits['SL14_R1'].segs.list[0])")  # idle 1-4
    browser.find_element(By.ID, "save").click()
    wait_for(browser, "!document.getElementById('banner').hidden")
    assert "Not saved" in browser.find_element(By.ID, "banner-text").text
    assert csv.read_bytes() == after_first  # refused: nothing overwritten
    browser.find_element(By.ID, "reload").click()
    wait_for(browser, "LP.app.edits['SL14_R1'] && LP.app.edits['SL14_R1'].segs.rows().length === 2")
    assert rows(browser) == [[6, 8, "walk"], [10, 12, "fall"]]  # theirs kept, mine applied on top
    browser.find_element(By.ID, "save").click()
    wait_for(browser, "document.getElementById('status').textContent === 'saved'")
    assert [(s.start_s, s.end_s, s.label) for s in read_segments_csv(csv)] == [(6.0, 8.0, "walk"), (10.0, 12.0, "fall")]


def test_playback_follows_the_recordings_own_timestamps(label_server, browser):
    from selenium.webdriver.common.by import By

    open_page(browser, label_server.url)
    times = browser.execute_script("return Array.from(LP.app.times)")
    assert times[121] - times[120] == pytest.approx(3.0)  # the fixture's gap
    start = times[120] - 0.3
    browser.execute_async_script("const done = arguments[1]; LP.app.player.seek(arguments[0]).then(done)", start)
    wall = time.monotonic()
    browser.execute_script("LP.app.player.play()")
    time.sleep(1.3)  # into the gap: the last frame before it stays on screen, time goes on
    t, shown = browser.execute_script("return [LP.app.player.t, LP.app.player.shown]")
    elapsed = time.monotonic() - wall
    assert shown == 120 and t - start == pytest.approx(elapsed, abs=0.35)
    assert "gap: no frame for" in browser.find_element(By.ID, "clock").text
    wait_for(browser, "LP.app.player.shown >= 121", timeout=4)  # the first frame after the gap, at its own time
    t = browser.execute_script("LP.app.player.pause(); return LP.app.player.t")
    assert t >= times[121] - 0.05


def test_with_a_token_the_page_takes_it_from_the_address_or_asks(labelled_data, browser):
    from selenium.webdriver.common.by import By

    from actline.apps.label import create_label_app
    from actline.apps.serve import ServeConfig

    from .conftest import Server

    token = "browser-test-token-0123456789"
    server = Server(create_label_app(labelled_data, cfg=ServeConfig(token=token)))
    try:
        open_page(browser, server.url + "#token=" + token)
        assert browser.execute_script("return location.hash") == ""  # not left in the address bar or history
        browser.switch_to.new_window("tab")  # a new tab has no token yet: the page asks for it
        browser.get(server.url)
        wait_for(browser, "!document.getElementById('token-form').hidden")
        assert browser.execute_script("return document.body.dataset.shownFrame") is None
        browser.find_element(By.ID, "token-input").send_keys(token + "\n")
        wait_for(browser, "LP.app.name === 'SL14_R1' && document.body.dataset.shownFrame === '0'")
    finally:
        server.stop()
