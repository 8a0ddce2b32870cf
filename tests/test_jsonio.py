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


# --- the append-only logs -----------------------------------------------------------------


def test_jsonl_values_names_lines_the_callers_way_and_can_skip():
    from bioinstruct.jsonio import jsonl_values

    lines = ['{"a": 1}\n', "\n", "[1, 2]\n", "not json\n", '"s"\n']
    with pytest.raises(DataError, match=r"^seeds, line 4: invalid JSON"):
        list(jsonl_values(lines, lambda n: f"seeds, line {n}"))
    skipped: list[int] = []
    values = list(jsonl_values(lines, str, skipped=skipped))
    assert values == [(1, {"a": 1}), (3, [1, 2]), (5, "s")] and skipped == [4]


def test_cut_torn_tail_cuts_only_bytes_after_the_last_newline(tmp_path):
    from bioinstruct.jsonio import cut_torn_tail

    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": "caf\xc3')  # killed inside a two-byte UTF-8 character
    assert cut_torn_tail(path) is True
    assert path.read_bytes() == b'{"a": 1}\n'
    assert cut_torn_tail(path) is False and path.read_bytes() == b'{"a": 1}\n'
    path.write_bytes(b"x" * 200_000)  # a tail longer than one read, and no newline at all
    assert cut_torn_tail(path) is True and path.read_bytes() == b""
    assert cut_torn_tail(tmp_path / "missing.jsonl") is False


def test_append_log_never_glues_a_record_onto_a_torn_line(tmp_path):
    from bioinstruct.jsonio import AppendLog

    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n" + '{"instruction": "half wri', encoding="utf-8")
    with AppendLog(path) as log:  # opened without recover_jsonl first
        log.append(ROWS[1])
        log.extend([ROWS[0], ROWS[1]])
    assert list(iter_jsonl(path)) == [ROWS[0], ROWS[1], ROWS[0], ROWS[1]]
    with pytest.raises(ValueError, match="closed"):
        log.append(ROWS[0])


def test_keyed_log_skips_a_torn_tail_and_later_appends_read_back(tmp_path, caplog):
    from bioinstruct.jsonio import KeyedLog

    path = tmp_path / "cache.jsonl"
    path.write_text('{"key": "a", "output": 1}\n{"key": "b", "outp', encoding="utf-8")
    with caplog.at_level("WARNING", logger="bioinstruct.jsonio"):
        log = KeyedLog(path, value_field="output")
    assert log.entries == {"a": 1} and log.skipped == 1
    assert "skipped 1 unreadable line (a torn last line)" in caplog.text
    log.put("b", [0.5, "x"])
    log.update({"c": {"nested": True}, "a": 2})  # a later line wins
    caplog.clear()
    with caplog.at_level("WARNING", logger="bioinstruct.jsonio"):
        again = KeyedLog(path, value_field="output")
    assert again.entries == {"a": 2, "b": [0.5, "x"], "c": {"nested": True}}
    assert again.skipped == 0 and not caplog.records  # the torn bytes are gone for good
    assert path.read_text(encoding="utf-8").splitlines()[1] == '{"key": "b", "output": [0.5, "x"]}'


def test_keyed_log_gives_one_warning_for_many_bad_lines(tmp_path, caplog):
    from bioinstruct.jsonio import KeyedLog

    good = [json.dumps({"key": f"k{i}", "scores": {"x": i}}) for i in range(3)]
    lines = [
        good[0],
        '{"key": "t1", "sco{"key": "glued", "scores": {}}',  # an old writer appended onto a torn line
        good[1],
        '{"scores": {"x": 1}}',  # no key
        "[1, 2]",
        '{"key": "t2", "s' + '{"key": "glued2"}',
        good[2],
    ]
    path = tmp_path / "judge_cache.jsonl"
    path.write_bytes(("\n".join(lines) + "\n").encode() + b'{"key": "t3", "raw": "\xc3')
    with caplog.at_level("WARNING", logger="bioinstruct.jsonio"):
        log = KeyedLog(path, what="judge cache")
    assert sorted(log.entries) == ["k0", "k1", "k2"]
    assert log.get("k1") == {"key": "k1", "scores": {"x": 1}}
    assert log.skipped == 5
    assert len(caplog.records) == 1, caplog.text
    message = caplog.records[0].getMessage()
    assert message.startswith(f"judge cache {path}: skipped 5 unreadable lines (lines 2, 4, 5, 6 and a torn")


def test_keyed_log_round_trips_line_separators_inside_values(tmp_path):
    """str.splitlines() splits at U+2028 and U+0085, which JSON keeps raw inside strings."""
    from bioinstruct.jsonio import KeyedLog

    path = tmp_path / "cache.jsonl"
    text = "first\u2028second\x85third\u2029"
    KeyedLog(path, value_field="output").put("k", text)
    assert KeyedLog(path, value_field="output").entries == {"k": text}


def test_concurrent_appends_from_threads_all_land(tmp_path):
    import threading

    from bioinstruct.jsonio import AppendLog, KeyedLog

    keyed = KeyedLog(tmp_path / "cache.jsonl", value_field="output")
    shared = AppendLog(tmp_path / "journal.jsonl")
    big = "β" * 20_000  # several buffer flushes per line: interleaving would tear lines apart

    def worker(t: int) -> None:
        for i in range(40):
            keyed.put(f"{t}-{i}", {"t": t, "i": i, "pad": big if i % 10 == 0 else ""})
            shared.append({"t": t, "i": i, "pad": big if i % 10 == 0 else ""})

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    shared.close()
    reloaded = KeyedLog(tmp_path / "cache.jsonl", value_field="output")
    assert reloaded.skipped == 0 and len(reloaded) == 8 * 40 == len(keyed)
    assert reloaded.entries == keyed.entries
    rows = list(iter_jsonl(tmp_path / "journal.jsonl"))
    assert sorted((row["t"], row["i"]) for row in rows) == [(t, i) for t in range(8) for i in range(40)]


def test_keyed_log_without_a_path_is_memory_only(tmp_path):
    from bioinstruct.jsonio import KeyedLog

    log = KeyedLog(None)
    log.put("k", {"scores": {}})
    assert log.get("k") == {"key": "k", "scores": {}} and "k" in log
    assert list(tmp_path.iterdir()) == []
