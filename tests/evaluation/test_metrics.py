"""Metric functions on hand-computed cases, and ROUGE against rouge_score itself."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from rouge_score import rouge_scorer

from bioinstruct.benchmarks import metrics
from bioinstruct.benchmarks.metrics import (
    accuracy,
    bertscore,
    bootstrap_ci,
    bootstrap_micro_f1_ci,
    entity_counts,
    entity_item_f1,
    entity_prf,
    normalize_entity,
    parse_entity_list,
    parse_relation_label,
    relation_prf,
    rouge,
    rouge_per_item,
)
from bioinstruct.errors import ConfigError, DataError

CHEMPROT = ["CPR:3", "CPR:4", "CPR:5", "CPR:6", "CPR:9", "false"]
DDI = ["DDI-mechanism", "DDI-effect", "DDI-advise", "DDI-int", "DDI-false"]


def test_accuracy_and_its_errors():
    assert accuracy(["a", "b", "c", "d"], ["a", "x", "c", "y"]) == 0.5
    with pytest.raises(DataError, match="3 predictions but 2 references"):
        accuracy([1, 2, 3], [1, 2])
    with pytest.raises(DataError, match="0 predictions"):
        accuracy([], [])


def test_bootstrap_ci_is_seeded_and_brackets_the_mean():
    scores = [1.0] * 70 + [0.0] * 30
    low, high = bootstrap_ci(scores)
    assert low < 0.7 < high
    assert low > 0.55 and high < 0.85
    assert bootstrap_ci(scores, seed=0) == (low, high)
    assert bootstrap_ci(scores, seed=1) != (low, high)
    assert bootstrap_ci([0.25] * 10) == (0.25, 0.25)
    narrow = bootstrap_ci(scores, confidence=0.5)
    assert low <= narrow[0] <= narrow[1] <= high
    with pytest.raises(DataError):
        bootstrap_ci([])
    with pytest.raises(ConfigError, match="confidence"):
        bootstrap_ci([1.0], confidence=1.5)


def test_bootstrap_micro_f1_ci():
    assert bootstrap_micro_f1_ci([(2, 0, 0), (1, 0, 0)]) == (1.0, 1.0)
    assert bootstrap_micro_f1_ci([(0, 1, 1), (0, 0, 2)]) == (0.0, 0.0)
    low, high = bootstrap_micro_f1_ci([(1, 0, 0), (0, 1, 0), (1, 0, 1), (2, 0, 0)] * 10)
    assert low < 2 * 4 / (2 * 4 + 1 + 1) < high


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Dobutamine. ", "dobutamine"),
        ("A - T", "a-t"),
        ("A-T", "a-t"),
        ("Na ( + ) , K ( + ) - ATPase", "na(+),k(+)-atpase"),
        ('"ventricular   tachycardia"', "ventricular tachycardia"),
        ("(breast cancer)", "breast cancer"),
    ],
)
def test_normalize_entity(raw, expected):
    assert normalize_entity(raw) == expected


@pytest.mark.parametrize(
    ("answer", "mentions"),
    [
        ("none", []),
        ("None.", []),
        ("", []),
        ("There are no entities", ["There are no entities"]),
        ("dobutamine; lindane", ["dobutamine", "lindane"]),
        ("- dobutamine\n- lindane\n", ["dobutamine", "lindane"]),
        ("1. dobutamine\n2. lindane", ["dobutamine", "lindane"]),
        ("dobutamine, lindane", ["dobutamine", "lindane"]),
        # Semicolons win over commas: gold mentions may contain commas.
        ("breast , brain and kidney cancer; tumours", ["breast , brain and kidney cancer", "tumours"]),
        ("1,2-dichloroethane", ["1,2-dichloroethane"]),
        ("NO; none", ["NO"]),
    ],
)
def test_parse_entity_list(answer, mentions):
    assert parse_entity_list(answer) == mentions


def test_entity_counts_are_multiset_matches():
    assert entity_counts(["Aspirin", "aspirin"], ["aspirin", "aspirin"]) == (2, 0, 0)
    assert entity_counts(["aspirin"], ["aspirin", "aspirin"]) == (1, 0, 1)
    assert entity_counts(["aspirin"] * 3, ["aspirin"]) == (1, 2, 0)
    assert entity_counts([], ["aspirin"]) == (0, 0, 1)
    assert entity_counts([], []) == (0, 0, 0)


def test_entity_prf_hand_computed():
    predictions = [["a", "C"], parse_entity_list("none"), [], ["E"]]
    references = [["A", "B"], [], ["D"], []]
    result = entity_prf(predictions, references)
    # tp=1 (a), fp=2 (C, E), fn=2 (B, D)
    assert (result["tp"], result["fp"], result["fn"]) == (1.0, 2.0, 2.0)
    assert result["precision"] == pytest.approx(1 / 3)
    assert result["recall"] == pytest.approx(1 / 3)
    assert result["f1"] == pytest.approx(1 / 3)


def test_entity_prf_empty_predictions_and_all_none():
    empty = entity_prf([[], []], [["x"], ["y", "z"]])
    assert (empty["precision"], empty["recall"], empty["f1"], empty["fn"]) == (0.0, 0.0, 0.0, 3.0)
    nothing = entity_prf([[], []], [[], []])
    assert nothing["f1"] == 0.0 and nothing["fp"] == 0.0
    assert entity_item_f1(parse_entity_list("none"), []) == 1.0
    assert entity_item_f1(["x"], []) == 0.0
    assert entity_item_f1(["x", "y"], ["x"]) == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("answer", "labels", "expected"),
    [
        ("CPR:4", CHEMPROT, "CPR:4"),
        ("The relation is CPR:9 (substrate).", CHEMPROT, "CPR:9"),
        ("CPR:4 or maybe CPR:3", CHEMPROT, "CPR:4"),
        ("false", CHEMPROT, "false"),
        ("CPR:45", CHEMPROT, None),
        ("I am not sure.", CHEMPROT, None),
        ("Answer: DDI-false", DDI, "DDI-false"),
        ("ddi-effect", DDI, "DDI-effect"),
    ],
)
def test_parse_relation_label(answer, labels, expected):
    assert parse_relation_label(answer, labels) == expected


def test_parse_relation_label_aliases():
    aliases = {"effect": "DDI-effect", "int": "DDI-int"}
    assert parse_relation_label("effect", DDI, aliases) == "DDI-effect"
    assert parse_relation_label("DDI-int", DDI, aliases) == "DDI-int"
    assert parse_relation_label("an interaction", DDI, aliases) is None
    with pytest.raises(ConfigError, match="not one of"):
        parse_relation_label("x", DDI, {"x": "DDI-other"})


def test_relation_prf_hand_computed():
    references = ["CPR:3", "CPR:4", "false", "CPR:5", "false"]
    predictions = ["CPR:3", "false", "CPR:4", None, "false"]
    result = relation_prf(predictions, references)
    # tp=1 (CPR:3); fp=1 (CPR:4 on a false item); fn=2 (CPR:4 missed, CPR:5 unparsed)
    assert result["precision"] == pytest.approx(0.5)
    assert result["recall"] == pytest.approx(1 / 3)
    assert result["f1"] == pytest.approx(0.4)
    assert result["accuracy"] == pytest.approx(0.4)
    # A wrong positive label is both a false positive and a false negative.
    wrong = relation_prf(["CPR:4"], ["CPR:3"])
    assert (wrong["precision"], wrong["recall"]) == (0.0, 0.0)


def test_rouge_equals_rouge_score_on_benchmark_rows(bionlp_dir):
    rows = [
        json.loads(line) for line in (bionlp_dir / "meqsum.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    predictions = [row["CHQ"].splitlines()[0] for row in rows]
    references = [row["Summary"] for row in rows]
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    expected = {name: 0.0 for name in ("rouge1", "rouge2", "rougeL")}
    for pred, ref in zip(predictions, references, strict=True):
        scores = scorer.score(ref, pred)
        for name in expected:
            expected[name] += scores[name].fmeasure / len(rows)
    got = rouge(predictions, references)
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-12)
    assert 0.0 < got["rouge2"] < got["rouge1"] < 1.0


def test_rouge_multi_reference_takes_the_best_and_scorer_is_built_once():
    metrics._rouge_scorer.cache_clear()
    one = rouge_per_item(["the cat sat"], [["a dog ran", "the cat sat down"]])[0]
    best = rouge_per_item(["the cat sat"], ["the cat sat down"])[0]
    assert one == best
    rouge(["x y"], ["x y"])
    rouge(["x z"], ["x y"])
    assert metrics._rouge_scorer.cache_info().misses == 1
    with pytest.raises(DataError, match="empty list of reference"):
        rouge_per_item(["x"], [[]])


def test_bertscore_without_the_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "bert_score", None)  # import now raises ImportError
    with pytest.raises(ConfigError, match=r"bioinstruct\[bertscore\]"):
        bertscore(["a"], ["a"])


def test_bertscore_missing_model_says_it_must_be_local():
    def offline_scorer(*args, **kwargs):
        raise OSError("We couldn't connect to 'https://huggingface.co'")

    with pytest.raises(ConfigError, match="local folder or already in the Hugging Face cache"):
        bertscore(["a"], ["a"], model_type="roberta-large", _scorer=offline_scorer)


def test_bertscore_reports_means():
    def fake_scorer(cands, refs, **kwargs):
        assert kwargs["model_type"] == "/models/roberta"
        return np.array([0.5, 1.0]), np.array([0.25, 0.75]), np.array([0.4, 0.8])

    result = bertscore(["a", "b"], ["a", "b"], model_type="/models/roberta", _scorer=fake_scorer)
    assert result == pytest.approx(
        {"bertscore_precision": 0.75, "bertscore_recall": 0.5, "bertscore_f1": 0.6}
    )
