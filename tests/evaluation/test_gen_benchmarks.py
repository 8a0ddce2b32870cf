"""Generation declarations: loaders on benchmark rows (invented fixtures, and the real samples), ROUGE
scoring, local-only sets."""

from __future__ import annotations

import csv
import json
import sys

import pytest
from rouge_score import rouge_scorer

from bioinstruct.benchmarks import get_benchmark, list_groups
from bioinstruct.errors import ConfigError, DataError
from bioinstruct.evaluation.scoring import score

GEN_SETS = ["mts_dialog", "meqsum", "mediqa_qs", "medicationqa", "liveqa"]


def _rows(bionlp_dir, name):
    return [
        json.loads(line) for line in (bionlp_dir / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    ]


def _load(name, path):
    bench = get_benchmark(name)
    rows = bench.load_rows(path)
    return bench, rows, bench.items(rows)


def test_gen_group_and_judge_axes():
    assert set(list_groups()["gen"]) == {
        "mts_dialog",
        "meqsum",
        "mediqa_qs",
        "medicationqa",
        "liveqa",
        "icliniq",
    }
    for name in list_groups()["gen"]:
        bench = get_benchmark(name)
        assert bench.judge_axes == ("coherence", "completeness", "naturalness")
        assert bench.primary_metric == "rougeL" and bench.default_num_fewshot == 1
        assert "paper" in bench.groups


@pytest.mark.parametrize(
    ("name", "source_field", "reference_field"),
    [
        ("meqsum", "CHQ", "Summary"),
        ("mediqa_qs", "NLM Question", "Summary"),
        ("medicationqa", "Question", "Answer"),
        ("mts_dialog", "dialogue", "section_text"),
    ],
)
def test_loaders_on_rows_in_the_hub_schema(name, source_field, reference_field, bionlp_dir):
    bench, rows, items = _load(name, bionlp_dir / f"{name}.jsonl")
    assert len(items) == len(rows) > 0
    for row, item in zip(rows, items, strict=True):
        assert item.input == row[source_field].strip()
        assert item.reference == row[reference_field].strip()
        assert item.question and item.instruction


@pytest.mark.samples
@pytest.mark.parametrize(
    ("name", "count"),
    [("meqsum", 133), ("mediqa_qs", 100), ("medicationqa", 134), ("mts_dialog", 135), ("liveqa", 69)],
)
def test_real_samples_load_every_documented_row(name, count, samples_dir):
    """SOURCES.md's counts: no row of the real files is lost by a loader."""
    assert len(_load(name, samples_dir / f"{name}.jsonl")[2]) == count


def test_mts_dialog_instruction_names_the_section(bionlp_dir):
    _, rows, items = _load("mts_dialog", bionlp_dir / "mts_dialog.jsonl")
    by_header = {row["section_header"]: item for row, item in zip(rows, items, strict=True)}
    assert '"family and social history"' in by_header["FAM/SOCHX"].instruction
    assert '"review of systems"' in by_header["ROS"].instruction
    assert "(FAM/SOCHX)" in by_header["FAM/SOCHX"].question
    assert items[0].id == rows[0]["ID"]


def test_mts_dialog_reads_the_official_csv(tmp_path, bionlp_dir):
    rows = _rows(bionlp_dir, "mts_dialog")[:3]
    path = tmp_path / "MTS-Dialog-TestSet-1-MEDIQA-Chat-2023.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["ID", "section_header", "section_text", "dialogue"])
        writer.writeheader()
        writer.writerows(rows)  # multi-line quoted dialogue fields, as in the release
    _, loaded, items = _load("mts_dialog", path)
    assert loaded == rows
    assert items[0].input == rows[0]["dialogue"].strip()


def test_mts_dialog_scores_the_test_set_not_the_hub_mirror():
    bench = get_benchmark("mts_dialog")
    assert bench.hub is None and bench.fewshot_hub.path == "har1/MTS_Dialogue-Clinical_Note"
    with pytest.raises(DataError, match="MTS-Dialog-TestSet-1-MEDIQA-Chat-2023.csv"):
        bench.load_rows()


def test_meqsum_split_is_explicit_and_disjoint_from_its_demonstrations():
    bench = get_benchmark("meqsum")
    assert bench.hub.split == "train[600:]" and bench.fewshot_hub.split == "train[:500]"
    assert "600-999" in bench.items_note


def test_liveqa_keeps_every_reference_answer(bionlp_dir):
    bench, rows, items = _load("liveqa", bionlp_dir / "liveqa.jsonl")
    assert len(items) == len(rows)
    for row, item in zip(rows, items, strict=True):
        assert item.reference == [a["ANSWER"].strip() for a in row["ReferenceAnswers"] if a["ANSWER"].strip()]
        assert (row["SUBJECT"] or "").strip() in item.input and (row["MESSAGE"] or "").strip() in item.input
    # Scored against the best reference: answering with any one of them gives ROUGE-L 1.
    multi = next(item for item in items if len(item.reference) > 1)
    assert bench.item_score(multi.reference[-1], multi.reference, {}) == pytest.approx(1.0)


def test_icliniq_from_a_local_json_list(tmp_path):
    rows = [
        {
            "input": "I have had a dry cough for two weeks.",
            "answer_icliniq": "Get a chest X-ray.",
            "answer_chatgpt": "x",
        },
        {"input": "My knee hurts when I run.", "answer_icliniq": "Rest and ice it.", "answer_chatgpt": "y"},
    ]
    path = tmp_path / "icliniq.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    _, _, items = _load("icliniq", path)
    assert [item.reference for item in items] == ["Get a chest X-ray.", "Rest and ice it."]
    assert items[0].id == "0"
    with pytest.raises(DataError, match="answer_icliniq"):
        get_benchmark("icliniq").load_rows()


@pytest.mark.parametrize("name", GEN_SETS)
def test_generation_metrics_equal_rouge_score(name, bionlp_dir):
    bench, rows, items = _load(name, bionlp_dir / f"{name}.jsonl")
    rows, items = rows[:25], items[:25]  # rouge_score's LCS is pure Python: keep the long texts few
    predictions = [item.input[:200] for item in items]
    references = [item.reference for item in items]
    result = bench.corpus_metrics(predictions, references, rows)
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    for metric in ("rouge1", "rouge2", "rougeL"):
        expected = 0.0
        for pred, ref in zip(predictions, references, strict=True):
            scores = scorer.score_multi(ref, pred) if isinstance(ref, list) else scorer.score(ref, pred)
            expected += scores[metric].fmeasure
        assert result[metric] == pytest.approx(expected / len(items), abs=1e-12)
    item_scores = [
        bench.item_score(p, r, row) for p, r, row in zip(predictions, references, rows, strict=True)
    ]
    assert sum(item_scores) / len(item_scores) == pytest.approx(result["rougeL"])
    gold = [ref if isinstance(ref, str) else ref[0] for ref in references]
    perfect = bench.corpus_metrics(gold, references, rows)
    assert perfect["rougeL"] == pytest.approx(1.0)


def test_bertscore_is_opt_in_and_explains_a_missing_install(monkeypatch, bionlp_dir):
    bench, rows, items = _load("meqsum", bionlp_dir / "meqsum.jsonl")
    predictions = [i.reference for i in items[:2]]
    texts = ["prompt"] * 2
    # The environment no longer switches it on: only the evaluator's (recorded) bertscore setting does.
    monkeypatch.setenv("BIOINSTRUCT_BERTSCORE_MODEL", "/models/roberta-large")
    plain = score(bench, rows[:2], items[:2], texts, predictions, "generate")
    assert "bertscore_f1" not in plain.metrics and plain.metrics["rougeL"] == pytest.approx(1.0)
    monkeypatch.setitem(sys.modules, "bert_score", None)
    with pytest.raises(ConfigError, match=r"pip install 'bioinstruct\[bertscore\]'"):
        score(
            bench,
            rows[:2],
            items[:2],
            texts,
            predictions,
            "generate",
            bertscore=("/models/roberta-large", None),
        )
