"""Record files: the shapes users bring, errors that name file and line, atomic writes."""

from __future__ import annotations

import json
import os

import pytest

from bioinstruct.errors import DataError
from bioinstruct.jsonio import append_jsonl, iter_jsonl, read_records, write_records

ROWS = [
    {"instruction": "Define sepsis.", "input": "", "output": "A dysregulated response."},
    {"instruction": "β?"},
]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("a.json", json.dumps(ROWS)),
        ("b.json", json.dumps({"data": ROWS})),
        ("c.json", json.dumps({"instances": ROWS, "meta": 1})),
        ("d.jsonl", "".join(json.dumps(r) + "\n" for r in ROWS)),
        ("e.json", "".join(json.dumps(r) + "\n" for r in ROWS)),  # JSONL under a .json name
        (
            "f.jsonl",
            "\n" + json.dumps(ROWS[0]) + "\n\n" + json.dumps(ROWS[1]),
        ),  # blank lines, no final newline
    ],
)
def test_read_records_shapes(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert read_records(path) == ROWS


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("x.jsonl", '{"a": 1}\n{"a": 2\n', r"x\.jsonl:2: invalid JSON"),
        ("x.jsonl", '{"a": 1}\n[1, 2]\n', r"x\.jsonl:2: expected a JSON object, got list"),
        ("x.json", '[\n {"a": 1},\n {"a": 2,,}\n]', r"x\.json:3: invalid JSON"),
        ("x.json", "[1, 2]", r"item 0 is a int"),
        ("x.json", '{"meta": 1}', r"object with a list under"),
        ("x.json", '"text"', r"expected a JSON list of objects, got str"),
    ],
)
def test_read_records_errors_name_file_and_line(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        read_records(path)


def test_missing_file_and_non_utf8(tmp_path):
    with pytest.raises(DataError, match=r"nope\.jsonl: file not found"):
        read_records(tmp_path / "nope.jsonl")
    with pytest.raises(DataError, match="not a file"):
        read_records(tmp_path)
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes('{"a": "café"}\n'.encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        read_records(latin)


def test_torn_tail_is_skipped_only_when_tolerated(tmp_path):
    path = tmp_path / "journal.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n" + '{"instruction": "half wri', encoding="utf-8")
    assert list(iter_jsonl(path, tolerate_torn_tail=True)) == [ROWS[0]]
    with pytest.raises(DataError, match=r"journal\.jsonl:2"):
        list(iter_jsonl(path))
    # A bad line that *does* end with a newline is corruption, not a torn tail.
    path.write_text('{"a": \n' + json.dumps(ROWS[0]) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"journal\.jsonl:1"):
        list(iter_jsonl(path, tolerate_torn_tail=True))


@pytest.mark.parametrize("name", ["out.jsonl", "out.json", "sub/dir/out.ndjson"])
def test_write_records_round_trip_and_no_temp_left(tmp_path, name):
    path = write_records(tmp_path / name, iter(ROWS))
    assert read_records(path) == ROWS
    text = path.read_text(encoding="utf-8")
    assert "β" in text  # written as UTF-8, not escaped
    assert text.startswith("[") == name.endswith(".json")
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_write_records_format_override_and_failure_keeps_old_file(tmp_path):
    path = tmp_path / "out.json"
    write_records(path, ROWS, jsonl=True)
    assert path.read_text(encoding="utf-8").splitlines()[0] == json.dumps(ROWS[0], ensure_ascii=False)

    def broken():
        yield ROWS[0]
        raise RuntimeError("writer died")

    with pytest.raises(RuntimeError):
        write_records(path, broken(), jsonl=True)
    assert read_records(path) == ROWS  # the previous complete file is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_append_jsonl_is_durable_line_by_line(tmp_path):
    path = tmp_path / "log.jsonl"
    with path.open("a", encoding="utf-8") as fh:
        append_jsonl(fh, ROWS[0])
        assert os.path.getsize(path) > 0  # flushed before the file is closed
        append_jsonl(fh, ROWS[1])
    assert list(iter_jsonl(path)) == ROWS


def test_atomic_writes_are_readable_like_files_open_creates(tmp_path):
    """mkstemp makes owner-only files; a dataset or report renamed into place must not stay 0600."""
    import os
    import stat

    from bioinstruct.generation.journal import write_json_atomic
    from bioinstruct.jsonio import write_records

    old = os.umask(0o022)
    try:
        records = write_records(tmp_path / "rows.jsonl", [{"a": 1}])
        write_json_atomic(tmp_path / "run.json", {"a": 1})
    finally:
        os.umask(old)
    for path in (records, tmp_path / "run.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
