"""The quality gates in a real run against a local chat-completions server: answer review and the
patient-identifier screen, journaled, counted, resumable, inside the one budget cap."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest

from bioinstruct.errors import ConfigError
from bioinstruct.generation.builder import ROW_FIELDS, BioInstructBuilder
from bioinstruct.generation.review import read_scores
from bioinstruct.testing.openai_server import LocalOpenAIServer, Reply
from tests.generation.builder_fakes import LABEL_MARKER, ScriptedTeacher, instruction_text, numbered_item
from tests.generation.test_builder import make_builder, read_jsonl

REVIEW_MARKER = "reviewing training data"


def _item_number(prompt: str) -> int:
    """The item number ``n`` of the reviewed task, from its output ``Answer gK n.``"""
    return int(re.search(r"Answer g\d+ (\d+)\.", prompt).group(1))


class ReviewingTeacher(ScriptedTeacher):
    """The scripted teacher, also a reviewer: items whose number is in ``unsafe`` get safety 1;
    ``bad_replies`` maps an item number to how many unreadable replies it gets first."""

    def __init__(self, unsafe=(), bad_replies=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.unsafe, self.bad_replies = set(unsafe), dict(bad_replies or {})
        self.reviews: list[int] = []
        self._review_lock = threading.Lock()

    def __call__(self, request):
        prompt = request["messages"][-1]["content"]
        if REVIEW_MARKER not in prompt:
            return super().__call__(request)
        number = _item_number(prompt)
        with self._review_lock:
            self.reviews.append(number)
            if self.bad_replies.get(number, 0) > 0:
                self.bad_replies[number] -= 1
                return Reply('Sure! {"correctness": 7, "completeness": 4}')  # out of range, key missing
        safety = 1 if number in self.unsafe else 5
        return Reply(
            json.dumps({"correctness": 4, "completeness": 4, "safety": safety, "rationale": f"item {number}"})
        )


def check_run(folder: Path, expected: int) -> tuple[list[dict], list[dict], dict]:
    """The run invariants of test_builder, with the gate columns: exact row count, unique ids and
    instructions, every row a kept candidate of the journal."""
    rows = read_jsonl(folder / "instructions.jsonl")
    journal = read_jsonl(folder / "journal.jsonl")
    run = json.loads((folder / "run.json").read_text())
    kept = {e["id"] for e in journal if e["event"] == "candidate" and e["decision"] == "kept"}
    assert len(rows) == expected == run["counters"]["kept"]
    assert len({r["id"] for r in rows}) == len({r["instruction"] for r in rows}) == expected
    assert {r["id"] for r in rows} <= kept
    for row in rows:
        assert tuple(row)[: len(ROW_FIELDS)] == ROW_FIELDS
    return rows, journal, run


def test_review_drops_unsafe_rows_and_records_scores(tmp_path: Path) -> None:
    teacher = ReviewingTeacher(unsafe={5, 9}, bad_replies={6: 1, 7: 2})
    with LocalOpenAIServer(teacher) as server:
        dataset = make_builder(tmp_path / "run", server, review=True).build(12)
    rows, journal, run = check_run(tmp_path / "run", 12)
    assert all(row["review"]["passed"] and row["review"]["safety"] == 5 for row in rows)
    dropped = [e for e in journal if e["event"] == "dropped"]
    numbers = {int(e["id"].rsplit("-", 1)[1]) + 3 for e in dropped}  # candidate 01 is item 4
    assert numbers == {5, 9, 7}  # unsafe twice; item 7 unreadable twice; item 6 repaired once and kept
    assert all(e["filter"] == "answer_review" for e in dropped)
    assert "scored under 3: safety 1" in next(e["reason"] for e in dropped if e["id"].endswith("-02"))
    assert "no readable review after 2 replies" in next(
        e["reason"] for e in dropped if e["id"].endswith("-04")
    )
    repaired = next(e for e in journal if e["event"] == "reviewed" and e["id"].endswith("-03"))
    assert repaired["attempts"] == 2 and repaired["review"]["passed"]
    repair_prompt = [e for e in journal if e["event"] == "request" and e.get("kind") == "review"]
    assert any("could not be used: correctness" in e["prompt"] for e in repair_prompt)
    assert run["counters"]["rejected_by_filter"]["answer_review"] == len(dropped) >= 3
    assert run["counters"]["review_requests"] == len(teacher.reviews)
    quality = run["quality"]["review"]
    assert quality["dropped"] == len(dropped) and quality["distribution"]["rows"] == 12
    assert quality["distribution"]["counts"]["safety"]["5"] == 12
    assert run["config"]["review_model"] == "gpt-4" and run["config"]["review_threshold"] == 3
    assert dataset.features["review"]["safety"].dtype == "int64" and dataset[0]["review"]["rationale"]
    # the labels were asked only for the rows that passed review
    labelled = sum(len(e["ids"]) for e in journal if e["event"] == "request" and e.get("kind") == "label")
    assert labelled == 12


def test_review_keep_marks_failing_rows(tmp_path: Path) -> None:
    with LocalOpenAIServer(ReviewingTeacher(unsafe={4})) as server:
        make_builder(tmp_path / "run", server, review=True, review_action="keep").build(5)
    rows, journal, run = check_run(tmp_path / "run", 5)
    failing = [row for row in rows if not row["review"]["passed"]]
    assert len(failing) == 1 and failing[0]["review"]["safety"] == 1
    assert not any(e["event"] == "dropped" for e in journal)
    assert run["quality"]["review"]["distribution"]["passed"] == 4


def test_resume_reuses_journaled_reviews(tmp_path: Path) -> None:
    """Reviews are journaled before labels: a run stopped by failing label requests resumes without
    asking for the same reviews again."""
    failing = {n: Reply("down", status=500) for n in range(1, 40)}
    teacher = ReviewingTeacher(label_faults=failing)
    with LocalOpenAIServer(teacher) as server:
        with pytest.raises(Exception, match="failed"):
            make_builder(tmp_path / "run", server, review=True, max_retries=0).build(4)
        reviewed_first = list(teacher.reviews)
        assert reviewed_first
        teacher.label_faults = {}
        make_builder(tmp_path / "run", server, review=True).build(4)
    rows, journal, _ = check_run(tmp_path / "run", 4)
    reviewed_ids = [e["id"] for e in journal if e["event"] == "reviewed"]
    assert len(reviewed_ids) == len(set(reviewed_ids))  # no task reviewed twice
    assert len(teacher.reviews) == len(reviewed_ids)


def test_reviewer_on_another_endpoint_shares_the_budget(tmp_path: Path) -> None:
    """The reviewer's spend and the teacher's count against one max_cost_usd."""
    prices = {"gpt-4": {"input": 10.0, "output": 10.0}, "judge-model": {"input": 10.0, "output": 10.0}}
    reviewer = ReviewingTeacher()
    with LocalOpenAIServer(ScriptedTeacher()) as server, LocalOpenAIServer(reviewer) as review_server:
        builder = make_builder(
            tmp_path / "run", server, review=True, review_model="judge-model",
            review_base_url=review_server.base_url, max_cost_usd=0.12, prices=prices,
        )  # fmt: skip
        builder.build(40)
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    journal = read_jsonl(tmp_path / "run" / "journal.jsonl")
    assert builder.stop_reason == "budget" and reviewer.reviews
    spent = sum(e.get("cost_usd") or 0 for e in journal if e["event"] == "reply")
    review_spent = sum(
        e.get("cost_usd") or 0 for e in journal if e["event"] == "reply" and e["kind"] == "review"
    )
    assert 0 < review_spent < spent <= 0.12 + 1e-9
    assert run["config"]["review_base_url"].rstrip("/") == review_server.base_url


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"review": True, "review_threshold": 0}, "review_threshold=0 is out of range"),
        ({"review": True, "review_threshold": 6}, "review_threshold=6 is out of range"),
        ({"review": True, "review_action": "dorp"}, "did you mean 'drop'"),
        ({"review_model": "judge"}, "review_model was given but review is off"),
        ({"screen_identifiers": "redcat"}, "did you mean 'redact'"),
        (
            {"review": True, "review_model": "unpriced", "max_cost_usd": 1.0},
            "reviewer model 'unpriced' has no known price",
        ),
    ],
)
def test_gate_configurations_that_cannot_work_are_refused(tmp_path: Path, settings, message) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        BioInstructBuilder(tmp_path / "run", api_key="k", progress=False, **settings)
    assert not (tmp_path / "run").exists()


def test_resume_with_other_gates_is_refused(tmp_path: Path) -> None:
    with LocalOpenAIServer(ReviewingTeacher()) as server:
        make_builder(tmp_path / "run", server, review=True).build(2)
        with pytest.raises(ConfigError, match="review=True, now False"):
            make_builder(tmp_path / "run", server).build(4)
        with pytest.raises(ConfigError, match="screen_identifiers=None, now 'drop'"):
            make_builder(tmp_path / "run", server, review=True, screen_identifiers="drop").build(4)


def test_read_scores_names_each_problem() -> None:
    assert read_scores("no json here")[1] == "it contained no JSON object"
    assert "not valid JSON" in read_scores("{correctness: 4}")[1]
    assert "safety" in read_scores('{"correctness": 4, "completeness": 4, "rationale": "x"}')[1]
    assert (
        "correctness"
        in read_scores('{"correctness": "4", "completeness": 4, "safety": 4, "rationale": "x"}')[1]
    )
    scores, problem = read_scores(
        '```json\n{"correctness": 5, "completeness": 4, "safety": 5, "rationale": "ok"}\n```'
    )
    assert problem is None and scores.completeness == 4


# -- the patient-identifier screen in a run -------------------------------------------------------

PLANTED = "Call the patient at (415) 555-0132 or write to j.doe@example.org."


class IdentifierTeacher(ScriptedTeacher):
    """Every third item's output carries a phone number and an e-mail address."""

    def __call__(self, request):
        prompt = request["messages"][-1]["content"]
        if LABEL_MARKER in prompt:
            return super().__call__(request)
        with self._lock:
            self.generation_calls += 1
            key = f"g{self.generation_calls}"
        items = [
            numbered_item(
                n,
                instruction_text(f"{key}:{n}"),
                f"Note {key} {n}: BP 120/80 mmHg, metformin 500 mg.",
                PLANTED if n % 3 == 0 else f"Answer {key} {n}.",
            )  # fmt: skip
            for n in range(4, 21)
        ]
        return Reply("".join(items))


@pytest.mark.parametrize("action", ["flag", "drop", "redact"])
def test_identifier_screen_actions(tmp_path: Path, action: str) -> None:
    with LocalOpenAIServer(IdentifierTeacher()) as server:
        dataset = make_builder(tmp_path / "run", server, screen_identifiers=action).build(12)
    rows, journal, run = check_run(tmp_path / "run", 12)
    planted_rows = [row for row in rows if "555-0132" in row["output"] or "[PHONE]" in row["output"]]
    summary = run["quality"]["identifiers"]
    if action == "drop":
        assert not planted_rows and summary["dropped"] >= 3
        rejected = [e for e in journal if e.get("filter") == "patient_identifiers"]
        assert {i["kind"] for i in rejected[0]["identifiers"]} == {"phone", "email"}
        assert "identifiers" not in dataset.features
        return
    assert planted_rows and summary["rows_with_identifiers"] == len(planted_rows)
    assert summary["by_kind"] == {"email": len(planted_rows), "phone": len(planted_rows)}
    clean = [row for row in rows if row not in planted_rows]
    assert all(row["identifiers"] == [] for row in clean)  # doses, BP and "Answer" text not flagged
    found = planted_rows[0]["identifiers"]
    if action == "flag":
        assert "555-0132" in planted_rows[0]["output"] and {i["text"] for i in found} == {
            "(415) 555-0132",
            "j.doe@example.org",
        }
    else:
        assert planted_rows[0]["output"] == "Call the patient at [PHONE] or write to [EMAIL]."
        output = planted_rows[0]["output"]  # the dataset keeps where, not what
        assert (
            [output[i["start"] : i["end"]] for i in found]
            == [i["text"] for i in found]
            == ["[PHONE]", "[EMAIL]"]
        )
        assert "555-0132" not in (tmp_path / "run" / "instructions.jsonl").read_text()
    assert dataset.features["identifiers"].feature["kind"].dtype == "string"
    assert dataset[planted_index(dataset)]["identifiers"][0]["kind"] in ("phone", "email")


def test_dataset_card_shows_the_gates(tmp_path: Path) -> None:
    from bioinstruct.cards.dataset import render_dataset_card

    with LocalOpenAIServer(ReviewingTeacher(unsafe={6})) as server:
        make_builder(tmp_path / "run", server, review=True, review_action="keep").build(6)
    rows, _, run = check_run(tmp_path / "run", 6)
    card = render_dataset_card(rows, run, "someone/bio")
    section = card.split("## Quality gates", 1)[1].split("## Decontamination", 1)[0]
    assert "`gpt-4` graded every kept task's output" in section
    assert "| 1 | 0 | 0 | 1 |" in section and "| 5 | 0 | 0 | 5 |" in section  # safety: one 1, five 5s
    assert "| mean | 4.00 | 4.00 | 4.33 |" in section
    assert "5 rows of 6 passed." in section
    assert "## Quality gates" not in render_dataset_card(rows, {**run, "quality": None}, "someone/bio")


def planted_index(dataset) -> int:
    return next(i for i, found in enumerate(dataset["identifiers"]) if found)
