"""QA and NLI loaders on benchmark rows (invented fixtures, and the real samples), exact rendered prompts, local-only data and Hub misses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bioinstruct.benchmarks import get_benchmark
from bioinstruct.errors import ConfigError, DataError
from bioinstruct.evaluation.prompting import render, select_demonstrations

PAPER_HEADER = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\n\n### Instruction:\n"
)


def rows_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_medqa_rows_and_exact_prompts(bionlp_dir: Path) -> None:
    bench = get_benchmark("medqa")
    raw = rows_of(bionlp_dir / "medqa.jsonl")
    items = bench.items(bench.load_rows(bionlp_dir / "medqa.jsonl"))
    assert len(items) == len(raw)
    for row, item in zip(raw, items, strict=True):
        assert item.labels == ["A", "B", "C", "D"] and item.choices[item.gold] == row["answer"]
    row, item = raw[0], items[0]
    options = "\n".join(f"{k}. {row['options'][k]}" for k in "ABCD")
    # "plain" is lm-eval's medqa_4options prompt, character for character.
    assert render(item, "plain").text == f"Question: {row['question']}\n{options}\nAnswer:"
    assert render(item, "plain").target_delimiter == " "
    assert render(item, "bioinstruct").text == (
        PAPER_HEADER
        + get_benchmark("medqa").instruction
        + f"\n\n### Input:\nQuestion: {row['question']}\n{options}\n\n### Output:\n"
    )
    chat = render(item, "chat")
    assert chat.text is None
    assert chat.messages == [
        {
            "role": "user",
            "content": f"{get_benchmark('medqa').instruction}\n\nQuestion: {row['question']}\n{options}",
        }
    ]


def test_medmcqa_cop_is_zero_based(bionlp_dir: Path) -> None:
    bench = get_benchmark("medmcqa")
    raw = rows_of(bionlp_dir / "medmcqa.jsonl")
    items = bench.items(bench.load_rows(bionlp_dir / "medmcqa.jsonl"))
    assert [item.id for item in items] == [row["id"] for row in raw]
    for row, item in zip(raw, items, strict=True):
        assert item.choices[item.gold] == row[["opa", "opb", "opc", "opd"][row["cop"]]]
    row = raw[0]
    # lm-eval's medmcqa prompt (utils_medmcqa.doc_to_text): the options follow a "Choices:" line.
    assert render(items[0], "plain").text == (
        f"Question: {row['question']}\nChoices:\nA. {row['opa']}\nB. {row['opb']}\nC. {row['opc']}\n"
        f"D. {row['opd']}\nAnswer:"
    )
    bad = dict(row, cop=4)
    with pytest.raises(DataError, match="cop must be 0-3"):
        bench.items([bad])


def test_pubmedqa_hub_schema_and_original_format_agree(bionlp_dir: Path, tmp_path: Path) -> None:
    bench = get_benchmark("pubmedqa")
    raw = rows_of(bionlp_dir / "pubmedqa.jsonl")
    items = bench.items(bench.load_rows(bionlp_dir / "pubmedqa.jsonl"))
    assert [item.labels[item.gold] for item in items] == [row["final_decision"] for row in raw]
    # The Hub's character-list quirk of reasoning_*_pred does not matter: those fields are not read.
    assert isinstance(raw[0]["context"]["reasoning_required_pred"], list)
    row = raw[0]
    # lm-eval's pubmedqa prompt (preprocess_pubmedqa.doc_to_text): one line per abstract section.
    assert len(row["context"]["contexts"]) > 1
    assert render(items[0], "plain").text == (
        "Abstract: " + "\n".join(row["context"]["contexts"]) + f"\nQuestion: {row['question']}\nAnswer:"
    )
    assert render(items[0], "bioinstruct").text.endswith(f"Question: {row['question']}\n\n### Output:\n")
    # The original release format (test_set.json: PMID -> record), as users get it from GitHub.
    original = {
        str(r["pubid"]): b for r, b in zip(raw, rows_of(bionlp_dir / "pubmedqa_bigbio.jsonl"), strict=True)
    }
    (tmp_path / "test_set.json").write_text(json.dumps(original))
    from_original = bench.items(bench.load_rows(tmp_path / "test_set.json"))
    assert [(i.id, i.input, i.gold) for i in from_original] == [(i.id, i.input, i.gold) for i in items]


def test_pubmedqa_ground_truth_file_selects_from_the_hub(tmp_path: Path) -> None:
    truth = tmp_path / "test_ground_truth.json"
    truth.write_text(json.dumps({"12345": "yes", "67890": "no"}))
    with pytest.raises(
        DataError, match=r"could not load qiaojin/PubMedQA/pqa_labeled \[train\].*--data-file pubmedqa"
    ):
        get_benchmark("pubmedqa").load_rows(truth)


def test_bioasq_from_sample_rows_official_json_and_folder(bionlp_dir: Path, tmp_path: Path) -> None:
    bench = get_benchmark("bioasq")
    yesno = rows_of(bionlp_dir / "bioasq_yesno.jsonl")
    factoid = rows_of(bionlp_dir / "bioasq_factoid.jsonl")
    items = bench.items(bench.load_rows(bionlp_dir / "bioasq_yesno.jsonl"))
    assert len(items) == len(yesno)
    assert [item.labels[item.gold] for item in items] == [
        row["exact_answer"].strip().lower() for row in yesno
    ]
    row = yesno[0]
    snippets = " ".join(s["text"].strip() for s in row["snippets"])
    assert render(items[0], "plain").text == f"Snippets: {snippets}\nQuestion: {row['body']}\nAnswer:"
    # Official golden-batch JSON: {"questions": [...]} with every question type mixed.
    (tmp_path / "batches").mkdir()
    half = len(yesno) // 2
    (tmp_path / "batches" / "10B1_golden.json").write_text(
        json.dumps({"questions": yesno[: half + 3] + factoid[:5]})
    )
    (tmp_path / "batches" / "11B1_golden.json").write_text(
        json.dumps({"questions": yesno[half:] + factoid[5:9]})
    )
    from_folder = bench.items(bench.load_rows(tmp_path / "batches"))
    assert sorted(i.id for i in from_folder) == sorted(r["id"] for r in yesno)  # overlap read once
    with pytest.raises(DataError, match="no yes/no questions"):
        bench.load_rows(bionlp_dir / "bioasq_factoid.jsonl")


def test_bioasq_and_mednli_absent_say_how_to_get_them(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="participants-area.bioasq.org"):
        get_benchmark("bioasq").load_rows()
    with pytest.raises(DataError, match="physionet.org/content/mednli"):
        get_benchmark("mednli").load_rows(tmp_path / "mli_test_v1.jsonl")


def test_mednli_from_a_handwritten_local_file(tmp_path: Path) -> None:
    path = tmp_path / "mli_test_v1.jsonl"
    rows = [
        {
            "pairID": "p1",
            "sentence1": "Patient denies chest pain.",
            "sentence2": "The patient has chest pain.",
            "gold_label": "contradiction",
        },
        {
            "pairID": "p2",
            "sentence1": "Temperature 39.2 C.",
            "sentence2": "The patient is febrile.",
            "gold_label": "entailment",
        },
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    bench = get_benchmark("mednli")
    items = bench.items(bench.load_rows(path))
    assert [i.labels[i.gold] for i in items] == ["contradiction", "entailment"]
    assert render(items[0], "bioinstruct").text == (
        PAPER_HEADER
        + get_benchmark("mednli").instruction
        + "\n\n### Input:\nPremise: Patient denies chest pain.\nHypothesis: The patient has chest pain.\n\n### Output:\n"
    )
    path.write_text(json.dumps(dict(rows[0], gold_label="maybe")) + "\n")
    with pytest.raises(DataError, match="row 0"):
        bench.items(bench.load_rows(path))


def test_hub_miss_is_one_clear_error() -> None:
    # conftest sets HF_HUB_OFFLINE=1, so this fails fast instead of downloading.
    with pytest.raises(
        DataError, match=r"could not load GBaker/MedQA-USMLE-4-options \[test\].*--data-file medqa=path"
    ):
        get_benchmark("medqa").load_rows()


def test_fewshot_demonstrations_are_seeded_and_rendered(bionlp_dir: Path) -> None:
    bench = get_benchmark("medqa")
    items = bench.items(bench.load_rows(bionlp_dir / "medqa.jsonl"))
    pool, query = items[1:], items[0]
    demos = select_demonstrations(pool, 2, seed=7)
    assert [d.id for d in demos] == [d.id for d in select_demonstrations(pool, 2, seed=7)]
    assert [d.id for d in select_demonstrations(items, 3, seed=7, exclude_ids=[query.id])].count(
        query.id
    ) == 0
    prompt = render(query, "plain", demos)
    shots = [render(d, "plain").text + " " + d.labels[d.gold] for d in demos]
    assert prompt.text == "\n\n".join([*shots, render(query, "plain").text])
    chat = render(query, "chat", demos)
    assert [m["role"] for m in chat.messages] == ["user", "assistant", "user", "assistant", "user"]
    assert chat.messages[1]["content"] == demos[0].labels[demos[0].gold]
    with pytest.raises(ConfigError, match="only 0 are available .*--fewshot-file"):
        select_demonstrations([query], 1, exclude_ids=[query.id])
    with pytest.raises(ConfigError, match="no train split"):
        get_benchmark("bioasq").load_fewshot_rows()
    with pytest.raises(ConfigError, match="unknown prompt template 'fancy'"):
        render(query, "fancy")
