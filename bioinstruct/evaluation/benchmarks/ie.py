"""Information-extraction benchmarks, asked as generation and scored at the entity level.

Why generative: the paper evaluates instruction-tuned models one-shot, by asking for the
entities (or the relation label) in words, not with a token-classification head. NER
answers are split into mentions and matched to the gold spans rebuilt from the IOB tags
(strict, case/whitespace/edge-punctuation normalised, multiset micro P/R/F1); relation
answers are mapped to the label set and scored with micro F1 over the positive classes, as
BLURB reports ChemProt and DDI.

The clinical IE sets of the paper (Agrawal et al. 2022: medication status, coreference) are
gated, so they load only from a local JSONL file in the schema documented in ``HOW_TO_GET``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bioinstruct.evaluation.benchmarks.ie_gen_common import prompts, read_blue_tsv
from bioinstruct.evaluation.iob import mentions_from_iob
from bioinstruct.evaluation.metrics import (
    bootstrap_micro_f1_ci,
    entity_counts,
    entity_item_f1,
    entity_prf,
    normalize_entity,
    parse_entity_list,
    parse_relation_label,
    relation_prf,
)
from bioinstruct.evaluation.registry import Benchmark, HubSource, Item, register_benchmark

_ENTITY_CITATION = (
    "Gu et al. 2021, BLURB (ACM HEALTH); Li et al. 2016 (BC5CDR); Dogan et al. 2014 (NCBI-disease)"
)


# --------------------------------------------------------------------------- NER


def _list_item(reference: list[str], **fields: Any) -> Item:
    """An Item whose one-shot demonstration lists the mentions the way the prompts ask: "a; b" or "none"."""
    return Item(reference=reference, demo_answer="; ".join(reference) or "none", **fields)


def entity_metrics(predictions: list[str], references: list[Any], rows: list[dict]) -> dict[str, float]:
    """Corpus micro P/R/F1 of generated mention lists."""
    return entity_prf([parse_entity_list(text) for text in predictions], references)


def entity_f1_ci(predictions: list[str], references: list[Any], rows: list[dict]) -> tuple[float, float]:
    """95% bootstrap CI of micro F1: sentences are resampled and their (tp, fp, fn) summed."""
    parsed = [parse_entity_list(text) for text in predictions]
    return bootstrap_micro_f1_ci([entity_counts(p, g) for p, g in zip(parsed, references, strict=True)])


def entity_item_score(prediction: str, reference: Any, row: dict) -> float:
    """Per-sentence F1 (1.0 for a correct "none")."""
    return entity_item_f1(parse_entity_list(prediction), reference)


def _ner_item(entity_type: str):
    instruction = prompts()["ner"][entity_type]

    def to_item(row: dict, index: int) -> Item:
        sentence = " ".join(row["tokens"])
        return _list_item(
            mentions_from_iob(row["tokens"], row["ner_tags"]),
            id=str(row.get("id", index)),
            instruction=instruction,
            input=sentence,
            question=sentence,
        )

    return to_item


def _ner(name: str, entity_type: str, hub: HubSource, fewshot: HubSource, description: str) -> Benchmark:
    return Benchmark(
        name=name,
        groups=("ie", "ner", "paper"),
        task="generation",
        to_item=_ner_item(entity_type),
        hub=hub,
        fewshot_hub=fewshot,
        items_note=f"every sentence of {hub.describe()}; gold mentions rebuilt from the IOB tags",
        description=description,
        max_new_tokens=96,
        default_num_fewshot=1,
        corpus_metrics=entity_metrics,
        item_score=entity_item_score,
        ci=entity_f1_ci,
        primary_metric="f1",
        citation=_ENTITY_CITATION,
    )


register_benchmark(
    _ner(
        "bc5cdr_chem",
        "chemical",
        HubSource("bigbio/blurb", "bc5chem", "test"),
        HubSource("bigbio/blurb", "bc5chem", "train"),
        "BC5CDR chemical NER (BLURB bc5chem), entity-level micro F1",
    )
)
register_benchmark(
    _ner(
        "bc5cdr_disease",
        "disease",
        HubSource("bigbio/blurb", "bc5disease", "test"),
        HubSource("bigbio/blurb", "bc5disease", "train"),
        "BC5CDR disease NER (BLURB bc5disease), entity-level micro F1",
    )
)
register_benchmark(
    _ner(
        "ncbi_disease",
        "disease",
        HubSource("ncbi/ncbi_disease", "ncbi_disease", "test"),
        HubSource("ncbi/ncbi_disease", "ncbi_disease", "train"),
        "NCBI-disease NER, entity-level micro F1",
    )
)


# --------------------------------------------------------------------------- relation extraction


def _relation_spec(name: str) -> dict[str, Any]:
    return prompts()["relation"][name]


def relation_metrics_for(name: str):
    """Corpus metrics of one relation set: micro P/R/F1 over its positive labels, and accuracy."""
    spec = _relation_spec(name)

    def metrics(predictions: list[str], references: list[Any], rows: list[dict]) -> dict[str, float]:
        parsed = [parse_relation_label(text, spec["labels"], spec["aliases"]) for text in predictions]
        result = relation_prf(parsed, references, negative_labels=spec["negative"])
        result["unparsed"] = float(sum(p is None for p in parsed))
        return result

    return metrics


def relation_ci_for(name: str):
    """Bootstrap CI of the positive-class micro F1 from per-item (tp, fp, fn)."""
    spec = _relation_spec(name)
    negative = set(spec["negative"])

    def ci(predictions: list[str], references: list[Any], rows: list[dict]) -> tuple[float, float]:
        counts = []
        for text, gold in zip(predictions, references, strict=True):
            pred = parse_relation_label(text, spec["labels"], spec["aliases"])
            positive_pred = pred is not None and pred not in negative
            counts.append(
                (
                    int(positive_pred and pred == gold),
                    int(positive_pred and pred != gold),
                    int(gold not in negative and pred != gold),
                )
            )
        return bootstrap_micro_f1_ci(counts)

    return ci


def relation_item_score_for(name: str):
    spec = _relation_spec(name)

    def item_score(prediction: str, reference: Any, row: dict) -> float:
        return float(parse_relation_label(prediction, spec["labels"], spec["aliases"]) == reference)

    return item_score


def _relation_item(name: str):
    spec = _relation_spec(name)

    def to_item(row: dict, index: int) -> Item:
        label = row["label"]
        if label not in spec["labels"]:
            raise ValueError(f"label {label!r} is not one of {spec['labels']}")
        return Item(
            id=str(row.get("index", index)),
            instruction=spec["instruction"],
            input=row["sentence"],
            reference=label,
            question=row["sentence"],
        )

    return to_item


_BLUE_HOW_TO = (
    "{name} has no canonical Hub copy in the sentence-level BLUE format: download the BLUE/BLURB "
    "{name} test.tsv (columns index, sentence, label; e.g. from the BLUE benchmark release or "
    "qingyu-qc/gpt_bionlp_benchmark) and pass --data-file {name}=test.tsv (JSONL with the same keys also works); "
    "for one-shot prompting pass the train.tsv with --fewshot-file {name}=train.tsv"
)

for _name, _desc in (
    ("chemprot", "ChemProt chemical-protein relations (BLUE sentence level), micro F1 over CPR:3/4/5/6/9"),
    ("ddi", "DDI 2013 drug-drug interactions (BLUE sentence level), micro F1 over the four DDI types"),
):
    register_benchmark(
        Benchmark(
            name=_name,
            groups=("ie", "re", "paper"),
            task="generation",
            to_item=_relation_item(_name),
            read_local=read_blue_tsv,
            how_to_get=_BLUE_HOW_TO.format(name=_name),
            items_note="every row of the supplied file; the negative label counts only through recall",
            description=_desc,
            max_new_tokens=16,
            default_num_fewshot=1,
            corpus_metrics=relation_metrics_for(_name),
            item_score=relation_item_score_for(_name),
            ci=relation_ci_for(_name),
            primary_metric="f1",
            citation="Peng et al. 2019 (BLUE); Krallinger et al. 2017 (ChemProt); Herrero-Zazo et al. 2013 (DDI)",
        )
    )


# --------------------------------------------------------------------------- clinical IE (local files)

_AGRAWAL = "Agrawal et al. 2022, Large language models are few-shot clinical information extractors (EMNLP)"

MEDICATION_STATUS_HOW_TO = (
    "medication_status is gated (clinical notes, Agrawal et al. 2022): request the annotations from the "
    "authors, convert them to JSONL with one note per line as "
    '{"id": str, "text": str, "medications": [{"name": str, "status": "active"|"discontinued"|"neither"}]} '
    "and pass --data-file medication_status=path.jsonl (one-shot: --fewshot-file medication_status=demo.jsonl)"
)
COREFERENCE_HOW_TO = (
    "coreference is gated (clinical notes, Agrawal et al. 2022): request the annotations from the authors, "
    "convert them to JSONL with one anaphor per line as "
    '{"id": str, "text": str, "anaphor": str, "antecedents": [str, ...]} '
    "and pass --data-file coreference=path.jsonl (one-shot: --fewshot-file coreference=demo.jsonl)"
)
MEDICATION_STATUSES = ("active", "discontinued", "neither")


def _medication_pair(name: str, status: str) -> str:
    return f"{name}: {status}"


def _medication_item(row: dict, index: int) -> Item:
    pairs = []
    for med in row["medications"]:
        status = str(med["status"]).strip().lower()
        if status not in MEDICATION_STATUSES:
            raise ValueError(f"medication status {med['status']!r} is not one of {list(MEDICATION_STATUSES)}")
        pairs.append(_medication_pair(med["name"], status))
    return _list_item(
        pairs,
        id=str(row.get("id", index)),
        instruction=prompts()["clinical"]["medication_status"],
        input=row["text"],
        question=row["text"],
    )


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


def _coreference_item(row: dict, index: int) -> Item:
    antecedents = row["antecedents"]
    if isinstance(antecedents, str):
        antecedents = [antecedents]
    if not antecedents or not all(normalize_entity(a) for a in antecedents):
        raise ValueError("antecedents must be a non-empty list of phrases")
    return _list_item(
        list(antecedents),
        id=str(row.get("id", index)),
        instruction=prompts()["clinical"]["coreference"].format(anaphor=row["anaphor"]),
        input=row["text"],
        question=f'{row["text"]}\n\nWhat does "{row["anaphor"]}" refer to?',
    )


for _bench in (
    Benchmark(
        name="medication_status",
        groups=("ie", "clinical", "paper"),
        task="generation",
        to_item=_medication_item,
        how_to_get=MEDICATION_STATUS_HOW_TO,
        items_note="every note of the supplied file",
        description="Clinical medication extraction with status (active/discontinued/neither), pair-level micro F1",
        max_new_tokens=128,
        default_num_fewshot=1,
        corpus_metrics=medication_metrics,
        item_score=entity_item_score,
        ci=entity_f1_ci,
        primary_metric="f1",
        citation=_AGRAWAL,
    ),
    Benchmark(
        name="coreference",
        groups=("ie", "clinical", "paper"),
        task="generation",
        to_item=_coreference_item,
        how_to_get=COREFERENCE_HOW_TO,
        items_note="every anaphor of the supplied file",
        description="Clinical coreference: the antecedent(s) of a marked expression, micro F1 over phrases",
        max_new_tokens=48,
        default_num_fewshot=1,
        corpus_metrics=entity_metrics,
        item_score=entity_item_score,
        ci=entity_f1_ci,
        primary_metric="f1",
        citation=_AGRAWAL,
    ),
):
    register_benchmark(_bench)
