"""Run-level diversity evidence: the nearest-neighbour ROUGE-L distribution, leading words and
categories, in run.json and in the dataset card with its chart."""

from __future__ import annotations

import json

import pytest

from bioinstruct.cards.dataset import render_dataset_card
from bioinstruct.generation.diversity import diversity_summary, leading_word
from bioinstruct.plots import nearest_neighbour_png
from tests.generation.builder_fakes import ScriptedTeacher
from tests.generation.test_builder import make_builder


def _row(instruction: str, score: float, category: str = "QA") -> dict:
    return {"instruction": instruction, "input": "", "output": "x", "category": category,
            "most_similar": {"id": "seed-1", "score": score}}  # fmt: skip


ROWS = [
    _row("Summarize the discharge note.", 0.05, "GEN"),
    _row("summarize the radiology report", 0.15, "GEN"),
    _row("List the medications in the note.", 0.35, "IE"),
    _row("What is the first-line treatment of uncomplicated hypertension?", 0.45),
    _row("  Explain why metformin is contraindicated in severe renal impairment.", 0.69, "OTHER"),
]


def test_the_summary_counts_what_each_row_carries():
    summary = diversity_summary(ROWS)
    nn = summary["nearest_neighbour_rouge_l"]
    assert nn["rows"] == 5 and nn["mean"] == pytest.approx(0.338) and nn["median"] == pytest.approx(0.35)
    assert [count for _, _, count in nn["bins"]] == [1, 1, 0, 1, 1, 0, 1, 0]
    assert sum(count for _, _, count in nn["bins"]) == 5
    assert summary["leading_words"] == {
        "distinct": 4,
        "top": [["summarize", 2], ["list", 1], ["what", 1], ["explain", 1]],
    }
    assert summary["categories"] == {"QA": 1, "IE": 1, "GEN": 2, "OTHER": 1}
    assert leading_word("  3. Summarize") == "summarize" and leading_word("123") is None


def test_an_empty_run_and_rows_without_scores_give_a_summary_not_an_error():
    empty = diversity_summary([])
    assert empty["nearest_neighbour_rouge_l"]["mean"] is None and empty["leading_words"]["distinct"] == 0
    no_score = diversity_summary([{"instruction": "Define sepsis.", "category": "QA"}])
    assert no_score["nearest_neighbour_rouge_l"]["rows"] == 0 and no_score["rows"] == 1


def test_run_json_carries_the_summary_of_the_kept_rows(tmp_path, openai_server):
    make_builder(tmp_path, openai_server(ScriptedTeacher())).build(6)
    run = json.loads((tmp_path / "run.json").read_text())
    rows = [json.loads(line) for line in (tmp_path / "instructions.jsonl").read_text().splitlines()]
    assert run["diversity"] == diversity_summary(rows) and run["diversity"]["rows"] == 6


def test_the_card_shows_the_distribution_and_the_chart_is_labelled(tmp_path):
    run = {"config": {"similarity_threshold": 0.7}, "counters": {}}
    card = render_dataset_card(ROWS, run, "my-org/bio")
    assert "## Diversity" in card and "![Nearest-neighbour similarity](images/nearest_neighbour.png)" in card
    assert "mean 0.338, median 0.350" in card and "rejects candidates at ROUGE-L >= 0.7" in card
    assert "| 0.6-0.7 | 1 | 20.0% |" in card
    assert "4 distinct leading words" in card and "`summarize` (2)" in card
    png = nearest_neighbour_png(
        diversity_summary(ROWS)["nearest_neighbour_rouge_l"]["bins"], tmp_path / "nn.png"
    )
    assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 5000
