"""The run files: torn tails are cut off, pending candidates come back, counters match the journal."""

from __future__ import annotations

import json

import pytest

from bioinstruct.errors import DataError
from bioinstruct.generation.journal import (
    INSTRUCTIONS,
    JOURNAL,
    AppendLog,
    Journal,
    recover,
    recover_jsonl,
    write_json_atomic,
)


def test_recover_jsonl_cuts_a_torn_tail_so_appends_start_clean(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n{"a": 3, "b": "to')
    assert recover_jsonl(path) == [{"a": 1}, {"a": 2}]
    assert path.read_text() == '{"a": 1}\n{"a": 2}\n'
    log = AppendLog(path)
    log.append({"a": 4})
    log.close()
    assert recover_jsonl(path) == [{"a": 1}, {"a": 2}, {"a": 4}]
    assert recover_jsonl(tmp_path / "missing.jsonl") == []


def test_a_complete_line_without_newline_is_also_torn(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}')  # the newline never made it: the write was not finished
    assert recover_jsonl(path) == [{"a": 1}]


def test_corruption_before_the_tail_is_an_error(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\nnot json\n{"a": 2}\n')
    with pytest.raises(DataError, match="x.jsonl:2"):
        recover_jsonl(path)


def _kept(journal, cand_id, request_id="gen-000001"):
    journal.write(
        "candidate",
        decision="kept",
        id=cand_id,
        request_id=request_id,
        instruction=f"do {cand_id}",
        input="",
        output="x",
        seed_ids=["s1"],
        most_similar={"id": "s1", "score": 0.1},
    )


def test_recover_rebuilds_counters_and_pending(tmp_path):
    journal = Journal(tmp_path / JOURNAL)
    journal.write("request", kind="generate", request_id="gen-000001", seed_ids=["s1"])
    journal.write("request", kind="generate", request_id="gen-000002", seed_ids=["s2"])
    journal.write(
        "reply",
        kind="generate",
        request_id="gen-000001",
        prompt_tokens=10,
        completion_tokens=20,
        cost_usd=0.5,
    )
    journal.write(
        "error", kind="generate", request_id="gen-000002", error="TeacherUnavailableError", message="x"
    )
    journal.write("parse", request_id="gen-000001", candidates=5, truncated=1, problem=None)
    _kept(journal, "gen-000001-01")
    _kept(journal, "gen-000001-02")
    _kept(journal, "gen-000001-03")
    journal.write("candidate", decision="rejected", filter="blacklist", reason="r", id="gen-000001-04")
    journal.write("candidate", decision="surplus", id="gen-000001-05")
    _kept(journal, "gen-000001-06")
    journal.write("request", kind="review", request_id="rev-000001", ids=["gen-000001-02"])
    journal.write("request", kind="review", request_id="rev-000002", ids=["gen-000001-06"])
    journal.write("reviewed", id="gen-000001-02", review={"safety": 5, "passed": True})
    journal.write("reviewed", id="gen-000001-06", review={"safety": 1, "passed": False})
    journal.write("dropped", id="gen-000001-06", filter="answer_review", reason="scored under 3: safety 1")
    journal.write("request", kind="label", request_id="lab-000001", ids=["gen-000001-01"])
    journal.write("unlabelled", id="gen-000001-03", reason="no readable label")
    journal.write("batch_submitted", batch_id="b1", requests=[{"request_id": "gen-000003", "seed_ids": []}])
    journal.close()
    rows = AppendLog(tmp_path / INSTRUCTIONS)
    rows.append({"id": "gen-000001-01", "instruction": "do gen-000001-01"})
    rows.close()
    with (tmp_path / JOURNAL).open("a") as handle:
        handle.write('{"event": "candidate", "decision": "ke')  # killed mid-line

    state = recover(tmp_path)
    assert [row["id"] for row in state.rows] == ["gen-000001-01"]
    assert [item["id"] for item in state.pending] == ["gen-000001-02"]
    assert state.pending[0]["review"] == {
        "safety": 5,
        "passed": True,
    }  # a resumed run does not review it again
    counters = state.counters()
    assert counters == {
        "kept": 1,
        "pending_label": 1,
        "candidates": 6,
        "rejected": 3,
        "rejected_by_filter": {"answer_review": 1, "blacklist": 1, "label": 1},
        "surplus": 1,
        "truncated_items": 1,
        "reply_problems": {},
        "generation_requests": 3,
        "label_requests": 1,
        "review_requests": 2,
        "failed_requests": 1,
        "label_fallbacks": 0,
        "prompt_tokens": 10,
        "completion_tokens": 20,
        "cost_usd": 0.5,
    }
    assert list(state.open_batches) == ["b1"]
    assert state.answered == {"gen-000001", "gen-000002"}
    assert (tmp_path / JOURNAL).read_text().endswith("}\n")


def test_duplicate_row_ids_are_refused(tmp_path):
    (tmp_path / INSTRUCTIONS).write_text('{"id": "a"}\n{"id": "a"}\n')
    with pytest.raises(DataError, match="duplicate ids"):
        recover(tmp_path)


def test_write_json_atomic_replaces_whole_file(tmp_path):
    path = tmp_path / "run.json"
    write_json_atomic(path, {"a": 1})
    write_json_atomic(path, {"b": [1, 2]})
    assert json.loads(path.read_text()) == {"b": [1, 2]}
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_a_label_fallback_is_counted_and_stays_pending_until_its_row_is_written(tmp_path):
    journal = Journal(tmp_path / JOURNAL)
    _kept(journal, "gen-000001-01")
    _kept(journal, "gen-000001-02")
    journal.write("unlabelled", id="gen-000001-01", fallback="OTHER", reason="no readable label")
    journal.write("unlabelled", id="gen-000001-02", fallback="OTHER", reason="no readable label")
    journal.close()
    rows = AppendLog(tmp_path / INSTRUCTIONS)
    rows.append({"id": "gen-000001-01", "instruction": "do gen-000001-01", "category": "OTHER"})
    rows.close()  # killed before the second fallback row was written

    state = recover(tmp_path)
    assert state.label_fallbacks == 2 and "label" not in state.rejected
    assert [item["id"] for item in state.pending] == ["gen-000001-02"]  # labelled again on resume
