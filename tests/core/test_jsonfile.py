import pytest

from actline.core.errors import ActlineError
from actline.core.jsonfile import read_json, read_json_object


def test_reads_and_refuses_with_one_line_naming_the_file(tmp_path):
    good = tmp_path / "a.json"
    good.write_text('{"k": [1, 2]}')
    assert read_json_object(good) == {"k": [1, 2]}
    cases = {"missing.json": (None, "file not found"), "bad.json": ("{oops", "not valid JSON"),
             "list.json": ("[1]", "expected a JSON object at the top level, found list"),
             "latin.json": (b'{"k": "\xe9"}', "not valid JSON")}
    for name, (content, message) in cases.items():
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif content is not None:
            path.write_text(content)
        with pytest.raises(ActlineError, match=message) as exc:
            read_json_object(path)
        assert str(path) in str(exc.value) and "\n" not in str(exc.value)
    assert read_json(tmp_path / "list.json") == [1]  # any top level when the caller checks it


def test_the_size_is_capped_before_reading(tmp_path):
    big = tmp_path / "big.json"
    big.write_text('{"pad": "' + "x" * 2000 + '"}')
    with pytest.raises(ActlineError, match=r"too large for a collection \(2\d{3} bytes, at most 1000\)"):
        read_json_object(big, max_bytes=1000, what="a collection")
    assert read_json_object(big, max_bytes=10_000)["pad"] == "x" * 2000
