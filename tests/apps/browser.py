"""Headless Chromium for the browser tests (the HTML report's player, the label page)."""

from __future__ import annotations

import shutil
import tempfile

import pytest


def chromium(width: int = 1200, height: int = 900):
    """A Selenium-driven headless Chromium with a fresh profile, or a skip saying what is missing."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (path and driver):
        pytest.skip("headless Chromium not installed (Debian packages chromium and chromium-driver; `make test` "
                    "installs them where it may)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = path
    profile = tempfile.mkdtemp(prefix="actline-chromium-")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-dev-shm-usage",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--autoplay-policy=no-user-gesture-required", f"--window-size={width},{height}",
                 f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(options=opts, service=Service(driver))
    close = browser.quit

    def quit_and_clean():
        try:
            close()
        finally:
            shutil.rmtree(profile, ignore_errors=True)

    browser.quit = quit_and_clean
    return browser
