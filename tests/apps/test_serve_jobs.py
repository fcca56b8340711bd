"""The service's JobQueue without HTTP: bounded, deadlines, cleanup, and every ending frees the slot."""

import threading
import time

import pytest

from actline.apps.serve.jobs import JobQueue, QueueFull
from actline.core.errors import ActlineError
from actline.data.limits import ReadLimits, current_limits


def _wait(queue, job, timeout=10.0):
    end = time.monotonic() + timeout
    while queue.get(job.id) is not None and queue.get(job.id).status in ("queued", "running"):
        assert time.monotonic() < end, "job did not end"
        time.sleep(0.01)
    return job


def _submit(queue, data=b"data", suffix=".bin"):
    job = queue.reserve()
    queue.path_for(job, suffix).write_bytes(data)
    queue.start(job)
    return job


def _until(cond, timeout=10.0):
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end
        time.sleep(0.01)


@pytest.fixture
def make(tmp_path):
    queues = []

    def make(run, **kw):
        q = JobQueue(run, root=tmp_path / f"q{len(queues)}", **kw)
        queues.append(q)
        return q

    yield make
    for q in queues:
        q.close()


def test_done_jobs_keep_their_result_and_lose_their_file(make):
    q = make(lambda path: {"bytes": path.read_bytes().decode()})
    job = _wait(q, _submit(q))
    assert job.status == "done" and job.result == {"bytes": "data"} and job.to_dict()["timeline"] == {"bytes": "data"}
    assert not list(q.root.iterdir()) and q.active() == 0
    assert "path" not in job.to_dict() and str(q.root) not in str(job.to_dict())


def test_the_queue_is_bounded_and_every_ending_frees_the_slot(make):
    release = threading.Event()
    q = make(lambda path: release.wait(10), size=2)
    a, b = _submit(q), q.reserve()
    with pytest.raises(QueueFull, match="limit is 2"):
        q.reserve()
    q.abandon(b)  # b's upload failed: forgotten, file gone, slot free
    assert q.get(b.id) is None and q.active() == 1
    c = q.reserve()
    q.path_for(c, ".mp4").write_bytes(b"x")
    q.abandon(c)
    assert not c.path.exists() and q.active() == 1
    release.set()
    _wait(q, a)
    assert a.status == "done" and q.active() == 0


def test_failures_end_with_one_line_and_no_server_paths(make):
    def run(path):
        if path.suffix == ".bad":
            raise ActlineError(path, "not a video\nsecond line")
        raise RuntimeError(f"boom in {path.parent}")

    q = make(run)
    bad, boom = _wait(q, _submit(q, suffix=".bad")), None
    boom = _wait(q, _submit(q, suffix=".x"))
    assert bad.status == "failed" and bad.error == "upload: not a video second line"
    assert boom.status == "failed" and boom.error.startswith("RuntimeError: boom in") and str(q.root) not in boom.error
    assert q.active() == 0 and not list(q.root.iterdir())


def test_jobs_read_with_the_queue_limits_and_a_deadline(make):
    seen = []
    q = make(lambda path: seen.append(current_limits()), limits=ReadLimits(max_frame_values=1234), timeout_s=50)
    _wait(q, _submit(q))
    (limits,) = seen
    assert limits.max_frame_values == 1234 and 40 < limits.deadline - time.monotonic() <= 50
    assert current_limits().deadline is None  # nothing leaks out of the job


def test_a_job_that_checks_its_deadline_fails_cleanly(make):
    def slow(path):
        while True:
            current_limits().check_deadline(path)
            time.sleep(0.01)

    q = make(slow, timeout_s=0.3)
    job = _wait(q, _submit(q))
    assert job.status == "failed" and "time limit of 0.3 s" in job.error
    _until(lambda: q.active() == 0)
    assert not list(q.root.iterdir())


def test_a_job_that_ignores_its_deadline_is_failed_by_the_watchdog(make):
    release = threading.Event()
    q = make(lambda path: release.wait(10) and "late", size=1, timeout_s=0.2)
    job = _submit(q)
    _until(lambda: job.status == "failed")
    assert "time limit" in job.error and not job.path.exists()  # failed and cleaned up at the deadline
    with pytest.raises(QueueFull):  # its work has not returned: the slot stays taken
        q.reserve()
    release.set()
    _until(lambda: q.active() == 0)
    assert job.status == "failed" and job.result is None  # the late result does not resurrect it
    q.reserve()


def test_old_finished_jobs_are_forgotten_first(make):
    q = make(lambda path: 1, keep=2)
    jobs = [_wait(q, _submit(q)) for _ in range(4)]
    q.reserve()
    assert [q.get(j.id) is not None for j in jobs] == [False, False, True, True]


def test_close_removes_the_private_directory(make, tmp_path):
    q = make(lambda path: 1)
    q.path_for(q.reserve(), ".h5").write_bytes(b"x")
    q.close()
    assert not q.root.exists()
