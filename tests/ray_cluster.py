"""A real Ray cluster on this machine for the tests that run actline's commands on Ray, and what its workers
import from the tests (this module is importable on every node: the nodes get the checkout on PYTHONPATH).

:func:`ray_cluster` starts a head (``ray start --head --port 0``) and a second node joined to it
(``ray start --address HEAD``), one CPU each, each in a temporary directory of its own and in the
foreground (``--block``), so that the test stops exactly the processes it started (SIGTERM to each
``ray start``, which stops its node's processes) and never another user's Ray, as ``ray stop`` would.
Ray's command line as documented: https://docs.ray.io/en/latest/cluster/cli.html.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from actline.infer.outputs import TimelineJob

ROOT = Path(__file__).resolve().parents[1]


def _env() -> dict:
    """The nodes' environment: this actline and these tests importable (absolute paths), no usage reports."""
    import actline

    paths = [str(Path(actline.__file__).resolve().parents[1]), str(ROOT)]
    paths += [str(Path(p).resolve()) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "RAY_USAGE_STATS_ENABLED": "0"}


def _start(args: list[str], log: Path) -> subprocess.Popen:
    exe = shutil.which("ray", path=str(Path(sys.executable).parent)) or shutil.which("ray")
    with open(log, "w") as fh:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([exe, "start", *args, "--num-cpus", "1", "--block", "--disable-usage-stats"],
                                stdout=fh, stderr=subprocess.STDOUT, env=_env(), start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # `ray start --block` stops the processes of its node, then exits
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # its own session, started above: only this node's processes
            proc.wait(10)


@contextmanager
def ray_cluster(nodes: int = 2):
    """A head and ``nodes - 1`` more nodes, one CPU each: yields the head's address (HOST:PORT). Skips the test,
    with the reason, where Ray is not installed or the cluster does not come up within a minute."""
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'actline[ray]')")
    root = Path(tempfile.mkdtemp(prefix="ar", dir="/tmp"))  # short: Ray's socket paths live under it
    procs = [_start(["--head", "--port", "0", "--temp-dir", str(root / "head"), "--include-dashboard", "false"],
                    root / "head.log")]
    try:
        address, deadline = None, time.monotonic() + 60
        while address is None and time.monotonic() < deadline:
            if procs[0].poll() is not None:
                pytest.skip(f"ray start --head exited: {(root / 'head.log').read_text()[-400:]}")
            current = root / "head" / "ray_current_cluster"
            address = current.read_text().strip() if current.is_file() and current.read_text().strip() else None
            time.sleep(0.2)
        if address is None:
            pytest.skip("the Ray head did not start within 60 s")
        procs += [_start(["--address", address, "--temp-dir", str(root / f"node{i}")], root / f"node{i}.log")
                  for i in range(1, nodes)]
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        try:
            while sum(n["Alive"] for n in ray.nodes()) < nodes and time.monotonic() < deadline:
                time.sleep(0.2)
            alive = sum(n["Alive"] for n in ray.nodes())
        finally:
            ray.shutdown()
        if alive < nodes:
            pytest.skip(f"only {alive} of {nodes} Ray nodes came up within 60 s")
        yield address
    finally:
        for proc in reversed(procs):
            _stop(proc)
        shutil.rmtree(root, ignore_errors=True)


# ------------------------------------------------------------------ imported by the cluster's workers


class _DiesOnce:
    """A timeline pipeline whose worker process dies, once, halfway through writing ``victim``'s files."""

    def __init__(self, pipe, victim: str, marker: Path):
        self._pipe, self._victim, self._marker = pipe, victim, marker

    def __getattr__(self, name):
        return getattr(self._pipe, name)

    def frame_labels(self, source, segs):  # called after the segment files, before the rest
        if Path(source).name == self._victim and not self._marker.exists():
            self._marker.write_text(str(os.getpid()))
            os._exit(1)  # the worker process dies: no exception, no clean-up, as a kill would
        return self._pipe.frame_labels(source, segs)


@dataclass
class DyingJob(TimelineJob):
    """A :class:`TimelineJob` whose worker dies the first time it writes ``victim``'s frame-wise labels."""

    victim: str = ""
    marker: Path = Path("died")

    def pipeline(self):
        return self.once("dying", lambda: _DiesOnce(TimelineJob.pipeline(self), self.victim, self.marker))


def chatty(shared: int, item: int, progress=None) -> int:
    """A task that reports progress and logs, for the test that both come back to the caller."""
    for step in range(1, 4):
        if progress:
            progress(f"item {item}: step", step, 3)
    logging.getLogger("actline.tests").warning("item %d done on pid %d", item, os.getpid())
    return shared * item
