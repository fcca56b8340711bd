"""``actline.load``: what a path holds is decided from its config.json, read as untrusted input."""

import pytest

import actline
from actline.core.errors import ActlineError
from actline.modeldir.directory import MAX_CONFIG_BYTES


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"pipeline": "mystery"}', "cannot be run on its own"),
])
def test_a_bad_config_is_one_error_naming_the_file(tmp_path, content, message):
    (tmp_path / "config.json").write_text(content)
    with pytest.raises(ActlineError, match=message) as err:
        actline.load(tmp_path)
    assert str(tmp_path) in str(err.value) and "\n" not in str(err.value)


def test_an_oversized_config_is_refused_before_it_is_parsed(tmp_path):
    with open(tmp_path / "config.json", "wb") as fh:  # sparse: the size is all that matters
        fh.truncate(MAX_CONFIG_BYTES + 1)
    with pytest.raises(ActlineError, match="too large for a model config"):
        actline.load(tmp_path)


def test_a_path_without_a_config_is_not_a_model(tmp_path):
    with pytest.raises(ActlineError, match="not a model"):
        actline.load(tmp_path)
