"""Numbers a user can trust: baselines, prediction distributions, constant-answer and empty-output
warnings, and judge counts next to the judge means, in results.json, results.md and the chart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bioinstruct.benchmarks import Benchmark, Item, register_benchmark
from bioinstruct.evaluation.diagnostics import (
    choice_diagnostics,
    is_degenerate,
    text_diagnostics,
    warnings_for,
)
from bioinstruct.evaluation.evaluator import Evaluator
from bioinstruct.evaluation.judge import Judge
from bioinstruct.evaluation.report import EvalResults
from bioinstruct.testing.openai_server import Reply
from tests.evaluation.test_evaluator import ScriptedBackend, medqa_rows


def test_chance_and_majority_baselines() -> None:
    # PubMedQA: yes/no/maybe, so chance is 1/3 whatever the labels; "always yes" gets the majority share.
    golds = ["yes"] * 6 + ["no"] * 3 + ["maybe"]
    d = choice_diagnostics(["yes"] * 10, golds, [3] * 10)
    assert d["chance_baseline"] == pytest.approx(1 / 3) and d["majority_baseline"] == pytest.approx(0.6)
    assert d["majority_label"] == "yes" and d["prediction_distribution"] == {"yes": 10}
    assert d["constant"] and d["top_prediction_share"] == 1.0
    # BioASQ yes/no: chance 1/2; 132 of 133 "yes" is (nearly) constant, as SmolLM2 answered.
    d = choice_diagnostics(["yes"] * 132 + ["no"], ["yes"] * 100 + ["no"] * 33, [2] * 133)
    assert d["chance_baseline"] == 0.5 and d["constant"]
    # MedQA: mixed answers with unparseable ones are not constant.
    d = choice_diagnostics(["A", "B", None, "C", "A"], ["A", "B", "C", "D", "A"], [4] * 5)
    assert d["chance_baseline"] == 0.25 and not d["constant"]
    assert d["prediction_distribution"] == {"A": 2, "B": 1, "(unparseable)": 1, "C": 1}
    assert warnings_for("medqa", "m", d, 5) == []
    # Nothing parsed: a different warning from a constant answer.
    d = choice_diagnostics([None] * 10, ["yes"] * 10, [3] * 10)
    (line,) = warnings_for("pubmedqa", "m", d, 10)
    assert line.startswith("pubmedqa (m): 100% of answers name no choice (unparseable")


@pytest.mark.parametrize(
    ("text", "degenerate"),
    [
        ("the cell the cell the cell the cell the cell the cell", True),
        ("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!", True),
        ("ĠĠĠĠĠĠĠĠĠĠĠĠĠĠĠĠĠĠĠĠĠĠĠĠ", True),
        ("Metformin is the first-line drug for type 2 diabetes in most adults.", False),
        ("Take 500 mg twice daily with meals; increase slowly to limit diarrhoea.", False),
        ("yes", False),
    ],
)
def test_degenerate_outputs(text: str, degenerate: bool) -> None:
    assert is_degenerate(text) is degenerate


def test_text_diagnostics_counts_empty_and_degenerate() -> None:
    d = text_diagnostics(["", "  ", "the cell the cell the cell the cell the cell", "Metformin.", None])
    assert (d["empty"], d["degenerate"], d["distinct_predictions"]) == (3, 1, 3)
    assert d["empty_share"] == pytest.approx(0.6) and d["degenerate_share"] == pytest.approx(0.2)


def test_always_a_with_echoes_lists_and_conflicts(samples_dir: Path, tmp_path: Path) -> None:
    """A model answering like SmolLM2 did: "A" or echoes. The report says it is a constant answer."""
    rows = medqa_rows(samples_dir)[:20]
    by_question = {row["question"]: row for row in rows}
    # Item 0 lists options, item 1 echoes the question, item 2 quotes option C's text under letter A.
    scripted = {
        rows[0]["question"]: "A. Ethanol\nB. Naloxone\nC. Naloxone",
        rows[1]["question"]: "A. " + rows[1]["question"][:80],
        rows[2]["question"]: "A. " + rows[2]["options"]["C"],
    }

    def generate(text: str) -> str:
        question = next(q for q in by_question if q in text)
        return scripted.get(question, "A")

    files = {"medqa": str(samples_dir / "medqa.jsonl")}
    results = Evaluator("m", backend=ScriptedBackend(generate=generate), progress=False).run(
        "medqa", limit=20, data_files=files, protocol="generate"
    )
    result = results.get("medqa")
    d = result.diagnostics
    assert result.unparseable == 2 and d["letter_text_conflicts"] == 1
    assert d["prediction_distribution"] == {"A": 18, "(unparseable)": 2}
    assert d["chance_baseline"] == 0.25
    gold = [row["answer_idx"] for row in rows]
    assert d["majority_baseline"] == pytest.approx(max(gold.count(x) for x in "ABCD") / 20)
    assert d["constant"] and "90% of predictions are 'A'" in result.warnings[0]
    assert [s.get("unparseable") for s in result.samples[:2]] == [
        "lists several options",
        "repeats the question",
    ]
    assert result.samples[2]["prediction"] == "A" and result.samples[2]["letter_text_conflict"] == "C"
    assert "letter wins" in result.protocol["scoring"]
    # One line in the results files for each; the chart draws the baselines.
    out = (results + _second_variant(results)).save(tmp_path / "eval")
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    saved = data["results"][0]
    assert saved["diagnostics"]["chance_baseline"] == 0.25 and saved["warnings"] == result.warnings
    markdown = (out / "results.md").read_text(encoding="utf-8")
    assert (
        "| medqa | m | " in markdown and "| 25.0 | " in markdown and "A 18, (unparseable) 2 | 1 |" in markdown
    )
    assert "Warnings:" in markdown and "90% of predictions are 'A'" in markdown
    png = (out / "results.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    reloaded = EvalResults.load(out).get("medqa")
    assert reloaded.diagnostics == saved["diagnostics"] and reloaded.warnings == result.warnings


def _second_variant(results: EvalResults) -> EvalResults:
    import copy

    other = copy.deepcopy(results)
    for r in other.results:
        r.adapter = "lora"
    return other


def test_chart_labels_every_bar_and_draws_chance(samples_dir: Path, tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from bioinstruct import plots

    results = Evaluator("m", backend=ScriptedBackend(generate=lambda text: "B"), progress=False).run(
        "medqa", limit=8, data_files={"medqa": str(samples_dir / "medqa.jsonl")}, protocol="generate"
    )
    both = results + _second_variant(results)
    captured = {}
    original = plots._save

    def spy(figure, path):
        captured["axes"] = figure.axes[0]
        return original(figure, path)

    plots._save, saved = spy, None
    try:
        saved = plots.results_png(both.results, tmp_path / "chart.png")
    finally:
        plots._save = original
    ax = captured["axes"]
    score = f"{100 * both.results[0].score:.1f}"
    assert [t.get_text() for t in ax.texts] == [score, score]  # one value label per bar
    assert [t.get_text() for t in ax.get_xticklabels()] == ["medqa\n(accuracy)"]
    chance = [c for c in ax.collections if c.get_label() == "chance (1/k options)"]
    assert chance and chance[0].get_segments()[0][0][1] == pytest.approx(25.0)
    assert saved.is_file()


def test_judge_counts_sit_next_to_the_judge_means(openai_server, tmp_path: Path) -> None:
    """1 of 5 items scored (as with SmolLM2 as judge): results say n=5 but judge_n=1, and keep the replies."""

    def to_item(row: dict, index: int) -> Item:
        return Item(
            id=str(index), instruction="Answer.", input=row["q"], reference=row["a"], question=row["q"]
        )

    register_benchmark(
        Benchmark(
            name="e1_eval_judged",
            groups=("e1_eval",),
            task="generation",
            to_item=to_item,
            item_score=lambda p, r, row: float(p == r),
            primary_metric="exact",
            judge_axes=("coherence", "completeness", "naturalness"),
            how_to_get="hand-written",
            max_new_tokens=5,
        )
    )
    data = tmp_path / "judged.jsonl"
    data.write_text("".join(json.dumps({"q": f"question {i}", "a": "metformin"}) + "\n" for i in range(5)))

    def reply(request):
        prompt = request["messages"][0]["content"]
        if "question 0" in prompt:
            return Reply('{"coherence": 4, "completeness": 3, "naturalness": 5}')
        return Reply("1. 20.\n2. 20.")  # what the real small model wrote instead of JSON

    server = openai_server(reply)
    judge = Judge(
        "gpt-4", base_url=server.base_url, api_key="sk-x", cache_dir=tmp_path / "judge", max_attempts=2
    )
    results = Evaluator("m", backend=ScriptedBackend(generate=lambda text: "metformin"), progress=False).run(
        "e1_eval_judged", data_files={"e1_eval_judged": str(data)}, judge=judge
    )
    result = results.get("e1_eval_judged")
    assert result.n == 5
    assert result.metrics["judge_coherence"] == 4.0
    assert (result.metrics["judge_n"], result.metrics["judge_unscored"]) == (1, 4)
    assert any("the judge scored 1 of 5 items" in line for line in result.warnings)
    assert result.samples[0]["judge"] == {"coherence": 4, "completeness": 3, "naturalness": 5}
    unscored = result.samples[1]
    assert unscored["judge"] is None and unscored["judge_reply"] == "1. 20.\n2. 20."
    assert "no JSON object found" in unscored["judge_error"]
    out = results.save(tmp_path / "eval")
    markdown = (out / "results.md").read_text(encoding="utf-8")
    assert "| e1_eval_judged | m | 4.00 | 3.00 | 5.00 | 1 | 4 | 0 |" in markdown
    sample_rows = [json.loads(line) for line in (out / "samples" / "e1_eval_judged.jsonl").open()]
    assert sample_rows[1]["judge_reply"] == "1. 20.\n2. 20."
