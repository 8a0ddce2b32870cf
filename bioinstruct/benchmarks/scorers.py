"""Scorers of the generation benchmarks, named by the declarations (``metric: entity``).

Why generative IE: the paper evaluates instruction-tuned models one-shot by asking for the
entities (or the relation label) in words, not with a token-classification head. NER answers
are split into mentions and matched to the gold spans rebuilt from the IOB tags (strict,
case/whitespace/edge-punctuation normalised, multiset micro P/R/F1); relation answers are mapped
to the declaration's label set and scored with micro F1 over the positive classes, as BLURB
reports ChemProt and DDI. Free text is scored with ROUGE-1/2/L (BERTScore is added by the
evaluator when a BERTScore model is configured).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bioinstruct.benchmarks.declaration import Benchmark
from bioinstruct.benchmarks.functions import Scorer, register_scorer
from bioinstruct.benchmarks.metrics import (
    bootstrap_micro_f1_ci,
    entity_counts,
    entity_item_f1,
    entity_prf,
    parse_entity_list,
    parse_relation_label,
    relation_prf,
    rouge,
    rouge_per_item,
)


def entity_metrics(predictions: list[str], references: list[Any], rows: list[dict]) -> dict[str, float]:
    """Corpus micro P/R/F1 of generated mention lists."""
    return entity_prf([parse_entity_list(text) for text in predictions], references)


def entity_f1_ci(predictions: list[str], references: list[Any], rows: list[dict]) -> tuple[float, float]:
    """95% bootstrap CI of micro F1: items are resampled and their (tp, fp, fn) summed."""
    parsed = [parse_entity_list(text) for text in predictions]
    return bootstrap_micro_f1_ci([entity_counts(p, g) for p, g in zip(parsed, references, strict=True)])


def entity_item_score(prediction: str, reference: Any, row: dict) -> float:
    """Per-item F1 (1.0 for a correct "none")."""
    return entity_item_f1(parse_entity_list(prediction), reference)


@register_scorer("entity")
def entity(bench: Benchmark) -> Scorer:
    """Mention lists ("a; b" or "none") against gold mentions: micro P/R/F1."""
    return Scorer(entity_metrics, entity_item_score, entity_f1_ci)


def _names_only(pairs: Sequence[str]) -> list[str]:
    return [pair.rsplit(":", 1)[0] if ":" in pair else pair for pair in pairs]


def medication_metrics(predictions: list[str], references: list[Any], rows: list[dict]) -> dict[str, float]:
    """Micro P/R/F1 of (medication, status) pairs, plus extraction F1 of the names alone.

    ``status_accuracy`` is the share of correctly extracted medications whose status is right
    (the conditional accuracy Agrawal et al. report next to extraction F1).
    """
    parsed = [parse_entity_list(text) for text in predictions]
    pairs = entity_prf(parsed, references)
    names = entity_prf([_names_only(p) for p in parsed], [_names_only(r) for r in references])
    return {
        **pairs,
        "medication_precision": names["precision"],
        "medication_recall": names["recall"],
        "medication_f1": names["f1"],
        "status_accuracy": pairs["tp"] / names["tp"] if names["tp"] else 0.0,
    }


@register_scorer("medication")
def medication(bench: Benchmark) -> Scorer:
    """ "name: status" pairs: pair-level micro P/R/F1, name-level F1 and status accuracy."""
    return Scorer(medication_metrics, entity_item_score, entity_f1_ci)


@register_scorer("relation")
def relation(bench: Benchmark) -> Scorer:
    """One label per item, mapped to ``options.labels`` (with ``aliases``); micro F1 over the
    labels not in ``options.negative`` (the negative class counts only through recall)."""
    labels, aliases = bench.options["labels"], bench.options.get("aliases", {})
    negative = list(bench.options.get("negative", []))

    def parse(text: str) -> str | None:
        return parse_relation_label(text, labels, aliases)

    def corpus_metrics(predictions: list[str], references: list[Any], rows: list[dict]) -> dict[str, float]:
        parsed = [parse(text) for text in predictions]
        result = relation_prf(parsed, references, negative_labels=negative)
        result["unparsed"] = float(sum(p is None for p in parsed))
        return result

    def ci(predictions: list[str], references: list[Any], rows: list[dict]) -> tuple[float, float]:
        counts = []
        for text, gold in zip(predictions, references, strict=True):
            pred = parse(text)
            positive = pred is not None and pred not in negative
            counts.append(
                (
                    int(positive and pred == gold),
                    int(positive and pred != gold),
                    int(gold not in negative and pred != gold),
                )
            )
        return bootstrap_micro_f1_ci(counts)

    def item_score(prediction: str, reference: Any, row: dict) -> float:
        return float(parse(prediction) == reference)

    return Scorer(corpus_metrics, item_score, ci)


def rouge_metrics(predictions: list[str], references: list[Any], rows: list[dict]) -> dict[str, float]:
    """Corpus ROUGE-1/2/L (mean of per-document F); the CI of ROUGE-L bootstraps the item scores."""
    return rouge(predictions, references)


def rouge_l_item_score(prediction: str, reference: Any, row: dict) -> float:
    """Per-document ROUGE-L F (against the best reference when there are several)."""
    return rouge_per_item([prediction], [reference], rouge_types=("rougeL",))[0]["rougeL"]


@register_scorer("rouge")
def rouge_scorer(bench: Benchmark) -> Scorer:
    """Free text against one or several references: ROUGE-1/2/L."""
    return Scorer(rouge_metrics, rouge_l_item_score)
