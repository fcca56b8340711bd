"""`actline label` as users run it: the page and its API come up on loopback; beyond it, no token, no start."""

import os
import subprocess
import sys
import time
import urllib.request

from .conftest import free_port


def test_actline_label_serves_the_page_and_the_queue(labelled_data, review_dir):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "actline.cli", "label", "--data", str(labelled_data),
                             "--review", str(review_dir), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        deadline, page = time.monotonic() + 30, None
        while page is None:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read().decode()
            except OSError:
                assert proc.poll() is None, proc.communicate()[1]
                assert time.monotonic() < deadline, "actline label did not start"
                time.sleep(0.1)
        assert "<canvas id=\"heat\"" in page
        import json

        data = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/dataset", timeout=5).read())
        assert data["review"] is True and [r["name"] for r in data["recordings"]] == ["SL14_R1", "SL15_R2"]
        review = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/review", timeout=5).read())
        assert len(review["items"]) == 2
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert f"http://127.0.0.1:{port}/" in err


def test_actline_label_refuses_to_listen_beyond_loopback_without_a_token(labelled_data):
    env = {k: v for k, v in os.environ.items() if k != "ACTLINE_TOKEN"}
    proc = subprocess.run([sys.executable, "-m", "actline.cli", "label", "--data", str(labelled_data), "--host", "0.0.0.0",
                           "--port", str(free_port())], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2 and "needs a token" in proc.stderr and proc.stderr.count("\n") == 1
    proc = subprocess.run([sys.executable, "-m", "actline.cli", "label", "--data", str(labelled_data.parent / "nope")],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2 and "not a labelled data set" in proc.stderr and "label page" not in proc.stderr
