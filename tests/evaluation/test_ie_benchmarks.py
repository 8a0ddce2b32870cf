"""IE declarations: IOB span rebuild on hand examples, loaders on benchmark rows (invented fixtures,
and the real samples), scoring."""

from __future__ import annotations

import json

import pytest

from bioinstruct.benchmarks import get_benchmark, list_groups
from bioinstruct.benchmarks.iob import Span, mentions_from_iob, spans_from_iob
from bioinstruct.errors import DataError

# --------------------------------------------------------------------------- IOB span rebuild


def test_spans_from_classlabel_ids():
    tokens = ["In", "A", "-", "T", "and", "leukaemia", "."]
    assert spans_from_iob(tokens, [0, 1, 2, 2, 0, 1, 0]) == [
        Span(1, 4, "", "A - T"),
        Span(5, 6, "", "leukaemia"),
    ]


def test_adjacent_b_tags_are_two_entities_and_an_entity_may_end_the_sentence():
    assert mentions_from_iob(["x", "y", "z"], [1, 1, 2]) == ["x", "y z"]


def test_orphan_i_starts_an_entity_like_conlleval():
    assert mentions_from_iob(["a", "b", "c", "d"], [0, 2, 2, 0]) == ["b c"]
    assert mentions_from_iob(["a", "b"], ["O", "I-Disease"]) == ["b"]


def test_string_tags_with_types():
    tokens = ["aspirin", "induced", "gastric", "ulcer"]
    tags = ["B-Chemical", "O", "B-Disease", "I-Disease"]
    assert spans_from_iob(tokens, tags) == [
        Span(0, 1, "Chemical", "aspirin"),
        Span(2, 4, "Disease", "gastric ulcer"),
    ]
    # A change of type inside a run starts a new entity.
    assert mentions_from_iob(["a", "b"], ["B-Chemical", "I-Disease"]) == ["a", "b"]


def test_repeated_mentions_are_kept():
    assert mentions_from_iob(["NO", "and", "NO"], [1, 0, 1]) == ["NO", "NO"]


def test_iob_errors_name_the_problem():
    with pytest.raises(DataError, match="3 tokens but 2 IOB tags"):
        spans_from_iob(["a", "b", "c"], [0, 1])
    with pytest.raises(DataError, match="outside the tag names"):
        spans_from_iob(["a"], [3])
    with pytest.raises(DataError, match="unknown IOB tag"):
        spans_from_iob(["a"], ["X-Disease"])


# --------------------------------------------------------------------------- NER on real rows

NER_SETS = ["bc5cdr_chem", "bc5cdr_disease", "ncbi_disease"]


def _load(name, bionlp_dir):
    bench = get_benchmark(name)
    rows = bench.load_rows(bionlp_dir / f"{name}.jsonl")
    return bench, rows, bench.items(rows)


def test_groups_hold_the_ie_benchmarks():
    groups = list_groups()
    assert {"bc5cdr_chem", "bc5cdr_disease", "ncbi_disease", "chemprot", "ddi"} <= set(groups["ie"])
    assert {"medication_status", "coreference"} <= set(groups["ie"]) & set(groups["paper"])


@pytest.mark.parametrize("name", NER_SETS)
def test_ner_loader_rebuilds_gold_mentions(name, bionlp_dir):
    bench, rows, items = _load(name, bionlp_dir)
    assert len(items) == len(rows) and bench.task == "generation" and bench.default_num_fewshot == 1
    for row, item in zip(rows, items, strict=True):
        assert item.input == " ".join(row["tokens"]) == item.question
        assert len(item.reference) == sum(tag == 1 for tag in row["ner_tags"])
        for mention in item.reference:
            assert mention in item.input
    assert any(item.reference for item in items) and not all(item.reference for item in items)


@pytest.mark.samples
def test_real_ner_samples_hold_the_documented_mentions(samples_dir):
    """SOURCES.md: 133 sentences each; 86 with a chemical, 88 with a disease."""
    counts = {}
    for name in NER_SETS:
        items = _load(name, samples_dir)[2]
        counts[name] = (len(items), sum(bool(item.reference) for item in items))
    assert counts["bc5cdr_chem"] == (133, 86) and counts["bc5cdr_disease"] == (133, 88)
    assert counts["ncbi_disease"][0] == 133


@pytest.mark.samples
def test_ncbi_first_row_mentions(samples_dir):
    _, _, items = _load("ncbi_disease", samples_dir)
    assert items[0].reference == ["A - T", "leukaemia"]
    assert items[0].id == "4"


@pytest.mark.parametrize("name", NER_SETS)
def test_gold_answers_in_the_prompted_format_score_perfectly(name, bionlp_dir):
    bench, rows, items = _load(name, bionlp_dir)
    answers = ["; ".join(item.reference) or "none" for item in items]
    references = [item.reference for item in items]
    result = bench.corpus_metrics(answers, references, rows)
    assert result["f1"] == 1.0 and result["fp"] == 0.0 and result["fn"] == 0.0
    assert bench.ci(answers, references, rows) == (1.0, 1.0)
    assert all(
        bench.item_score(a, r, row) == 1.0 for a, r, row in zip(answers, references, rows, strict=True)
    )


def test_ner_scoring_of_imperfect_answers(bionlp_dir):
    bench, rows, items = _load("bc5cdr_chem", bionlp_dir)
    # Answer "none" everywhere: the no-chemical sentences are right, nothing is found.
    result = bench.corpus_metrics(["none"] * len(items), [i.reference for i in items], rows)
    assert result["tp"] == 0.0 and result["fp"] == 0.0
    assert result["fn"] == sum(len(i.reference) for i in items)
    assert (result["precision"], result["recall"], result["f1"]) == (0.0, 0.0, 0.0)
    scores = [bench.item_score("none", i.reference, row) for i, row in zip(items, rows, strict=True)]
    assert sum(scores) == sum(not i.reference for i in items) > 0


# --------------------------------------------------------------------------- relation extraction


@pytest.mark.parametrize(("name", "negative"), [("chemprot", "false"), ("ddi", "DDI-false")])
def test_relation_loader_and_scoring(name, negative, bionlp_dir):
    bench, rows, items = _load(name, bionlp_dir)
    assert len(items) == len(rows)
    assert negative in [item.reference for item in items]
    assert items[0].reference == rows[0]["label"] and items[0].input == rows[0]["sentence"]
    references = [item.reference for item in items]
    perfect = bench.corpus_metrics(references, references, rows)
    assert perfect["f1"] == 1.0 and perfect["accuracy"] == 1.0 and perfect["unparsed"] == 0.0
    # Always answering the negative label: accuracy = share of negatives, F1 over positives = 0.
    all_negative = bench.corpus_metrics([negative] * len(items), references, rows)
    assert all_negative["accuracy"] == pytest.approx(references.count(negative) / len(items))
    assert all_negative["f1"] == 0.0
    low, high = bench.ci(references, references, rows)
    assert low == high == 1.0


def test_blue_tsv_with_and_without_header(tmp_path, bionlp_dir):
    bench = get_benchmark("ddi")
    rows = [json.loads(line) for line in (bionlp_dir / "ddi.jsonl").read_text(encoding="utf-8").splitlines()][
        :3
    ]
    body = "".join(f"{r['index']}\t{r['sentence']}\t{r['label']}\n" for r in rows)
    with_header = tmp_path / "test.tsv"
    with_header.write_text("index\tsentence\tlabel\n" + body, encoding="utf-8")
    without = tmp_path / "plain.tsv"
    without.write_text(body, encoding="utf-8")
    assert bench.load_rows(with_header) == bench.load_rows(without) == rows
    broken = tmp_path / "broken.tsv"
    broken.write_text("a\tb\n", encoding="utf-8")
    with pytest.raises(DataError, match="expected 3 tab-separated columns"):
        bench.load_rows(broken)


def test_relation_label_outside_the_label_set_is_a_data_error(tmp_path):
    path = tmp_path / "chemprot.jsonl"
    rows = [
        {"index": "1", "sentence": "s", "label": "CPR:3"},
        {"index": "2", "sentence": "s", "label": "CPR:10"},
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    bench = get_benchmark("chemprot")
    with pytest.raises(DataError, match="CPR:10"):
        bench.items(bench.load_rows(path))


def test_relation_sets_need_a_local_file():
    with pytest.raises(DataError, match="--data-file chemprot="):
        get_benchmark("chemprot").load_rows()


# --------------------------------------------------------------------------- clinical IE (local files)

MEDICATION_ROWS = [
    {
        "id": "n1",
        "text": "Started metformin 500 mg. Stopped lisinopril due to cough. Aspirin was discussed.",
        "medications": [
            {"name": "metformin", "status": "active"},
            {"name": "lisinopril", "status": "discontinued"},
            {"name": "Aspirin", "status": "neither"},
        ],
    },
    {"id": "n2", "text": "No medications today.", "medications": []},
]
COREFERENCE_ROWS = [
    {"id": "c1", "text": "The patient had a rash. It resolved.", "anaphor": "It", "antecedents": ["a rash"]},
    {"id": "c2", "text": "Dr. Lee saw her. She advised rest.", "anaphor": "She", "antecedents": ["Dr. Lee"]},
]


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_medication_status_from_a_local_file(tmp_path):
    bench = get_benchmark("medication_status")
    rows = bench.load_rows(_write_jsonl(tmp_path / "meds.jsonl", MEDICATION_ROWS))
    items = bench.items(rows)
    assert items[0].reference == ["metformin: active", "lisinopril: discontinued", "Aspirin: neither"]
    assert items[1].reference == []
    answers = ["metformin: active; lisinopril: active; warfarin: active", "none"]
    result = bench.corpus_metrics(answers, [i.reference for i in items], rows)
    # Pairs: tp=1 (metformin), fp=2, fn=2.  Names: tp=2, fp=1, fn=1.  Status right for 1 of 2 found.
    assert result["f1"] == pytest.approx(1 / 3)
    assert result["medication_f1"] == pytest.approx(2 / 3)
    assert result["status_accuracy"] == pytest.approx(0.5)


def test_medication_status_rejects_an_unknown_status(tmp_path):
    bad = [MEDICATION_ROWS[1], {"id": "x", "text": "t", "medications": [{"name": "m", "status": "paused"}]}]
    bench = get_benchmark("medication_status")
    with pytest.raises(DataError, match="paused"):
        bench.items(bench.load_rows(_write_jsonl(tmp_path / "bad.jsonl", bad)))


def test_coreference_from_a_local_file(tmp_path):
    bench = get_benchmark("coreference")
    rows = bench.load_rows(_write_jsonl(tmp_path / "coref.jsonl", COREFERENCE_ROWS))
    item, other = bench.items(rows)
    assert '"It"' in item.instruction and item.reference == ["a rash"]
    references = [item.reference, other.reference]
    assert bench.corpus_metrics(["A rash.", "dr. lee"], references, rows)["f1"] == 1.0
    assert bench.corpus_metrics(["the patient", "Dr. Lee"], references, rows)["f1"] == 0.5


@pytest.mark.parametrize(
    ("name", "field"), [("medication_status", '"medications"'), ("coreference", '"anaphor"')]
)
def test_missing_clinical_file_explains_the_schema(name, field, tmp_path):
    bench = get_benchmark(name)
    with pytest.raises(DataError, match=field):
        bench.load_rows()
    with pytest.raises(DataError, match="not found"):
        bench.load_rows(tmp_path / "absent.jsonl")
    wrong = _write_jsonl(tmp_path / "wrong.jsonl", [{"note": "x"}, {"note": "y"}])
    with pytest.raises(DataError, match="does not match the expected schema"):
        bench.items(bench.load_rows(wrong))
