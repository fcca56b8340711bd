"""The one execution layer of many files and folds (actline.core.task_map), here; on Ray: tests/cli/test_ray.py."""

from __future__ import annotations

import pickle
import sys

import pytest

from actline.cli import main
from actline.core.errors import ActlineError
from actline.core.task_map import Job, map_tasks


class _Model(Job):
    def __init__(self, scale: int):
        self.scale, self.loads = scale, 0

    def model(self):
        def load():
            self.loads += 1
            return object()

        return self.once("model", load)


def _scaled(job: _Model, item: int, progress=None) -> int:
    job.model()
    if progress:
        progress("seed 0: loss", item, 10)
    return job.scale * item


def test_items_run_in_order_with_one_load_and_a_bar_per_item_and_one_for_all():
    seen = []
    job = _Model(3)
    out = list(map_tasks(_scaled, [4, 1, 2], job, progress=lambda *a: seen.append(a), name="files",
                         label=lambda i: f"fold {i}"))
    assert out == [12, 3, 6] and job.loads == 1
    # each item's own progress is tagged with its label (parallel folds would otherwise share "seed 0"), then counted
    assert seen[:2] == [("fold 4 · seed 0: loss", 4, 10), ("files", 1, 3)]
    assert [a for a in seen if a[0] == "files"] == [("files", 1, 3), ("files", 2, 3), ("files", 3, 3)]


def test_a_job_travels_without_what_it_loaded_and_errors_travel_whole():
    job = _Model(2)
    job.model()
    copy = pickle.loads(pickle.dumps(job))
    assert copy.scale == 2 and "_loaded" not in copy.__dict__  # a worker loads its own model
    err = pickle.loads(pickle.dumps(ActlineError("a.h5", "row 3: bad")))  # as a Ray task returns it
    assert isinstance(err, ActlineError) and str(err) == "a.h5: row 3: bad" and err.where == "a.h5"


def test_an_error_stops_the_run_and_names_its_item():
    def fail_on_two(shared, item, progress=None):
        if item == 2:
            raise ActlineError(f"rec{item}.h5", "unreadable")
        return item

    it = map_tasks(fail_on_two, [1, 2, 3])
    assert next(it) == 1
    with pytest.raises(ActlineError, match="rec2.h5: unreadable"):
        next(it)


@pytest.mark.parametrize("argv", [
    ["timeline", "MODEL", "in.mp4", "--ray", "auto"],
    ["predict", "MODEL", "rec.h5", "--ray", "auto"],
    ["cv", "--data", "DATA", "--out", "OUT", "--ray", "10.0.0.1:6379"],
], ids=["timeline", "predict", "cv"])
def test_ray_without_ray_installed_is_one_line_naming_the_extra(argv, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets where it is not installed
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    # before anything else is looked at: the model, the data and the inputs here do not exist
    assert lines == ["error: this needs ray, which is not installed: pip install 'actline[ray]'"]
