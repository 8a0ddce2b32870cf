"""Decontamination against benchmark rows: the invented fixtures (tests/fixtures/bionlp) and the real
samples (``samples``, read at test time).

Planted overlaps must be found with the right item id and method; the bundled seeds and
USMLE-style boilerplate must not be flagged; the CLI drops exactly the flagged rows.
"""

from __future__ import annotations

import json

import pytest
from rouge_score import rouge_scorer

from bioinstruct.benchmarks import get_benchmark
from bioinstruct.cli import main
from bioinstruct.decontamination.report import (
    ContaminationIndex,
    decontaminate,
    load_test_sets,
    normalize_words,
)
from bioinstruct.errors import ConfigError, DataError
from bioinstruct.generation.seeds import load_seed_tasks
from bioinstruct.jsonio import read_records

# Sample file of each benchmark that has one (bioasq: the yes/no questions).
SAMPLE_FILES = {
    "medqa": "medqa",
    "medmcqa": "medmcqa",
    "pubmedqa": "pubmedqa",
    "bioasq": "bioasq_yesno",
    "bc5cdr_chem": "bc5cdr_chem",
    "bc5cdr_disease": "bc5cdr_disease",
    "ncbi_disease": "ncbi_disease",
    "chemprot": "chemprot",
    "ddi": "ddi",
    "mts_dialog": "mts_dialog",
    "meqsum": "meqsum",
    "mediqa_qs": "mediqa_qs",
    "medicationqa": "medicationqa",
    "liveqa": "liveqa",
}
VIGNETTE = (
    "A 61-year-old retired teacher has had three weeks of progressive exertional dyspnea and bilateral "
    "ankle swelling after a viral illness; jugular venous pressure is raised and an S3 is audible. "
    "Which of the following is the most likely underlying cause of this patient's condition?"
)


def sample_files(bionlp_dir, *names):
    return {name: str(bionlp_dir / f"{SAMPLE_FILES[name]}.jsonl") for name in names}


def medqa_items(bionlp_dir):
    bench = get_benchmark("medqa")
    return bench.items(bench.load_rows(bionlp_dir / "medqa.jsonl"))


@pytest.fixture(scope="module")
def medqa_index(bionlp_dir):
    return ContaminationIndex.from_benchmarks("medqa", data_files=sample_files(bionlp_dir, "medqa"))


def pick(items, words: tuple[int, int]):
    """The first item whose question has a word count in ``words`` (deterministic across runs)."""
    return next(item for item in items if words[0] <= len(item.question.split()) <= words[1])


def paraphrase(question: str) -> str:
    """Every 6th word reworded: ROUGE-L stays ~0.83 but no 6 consecutive words survive."""
    words = question.split()
    return " ".join("reportedly" if i % 6 == 5 else word for i, word in enumerate(words))


def test_pasted_question_is_flagged_by_ngram_with_its_item_id(bionlp_dir, medqa_index):
    items = medqa_items(bionlp_dir)
    item = pick(items, (60, 140))
    row = {"id": "r1", "instruction": f"Please answer: {item.question}", "input": "", "output": "B"}
    result = decontaminate(
        [{"instruction": "Define hypoxemia in one sentence.", "output": "Low O2."}, row], medqa_index
    )
    assert [flag["position"] for flag in result.flagged] == [1]
    (overlap,) = result.flagged[0]["overlaps"]
    assert overlap["benchmark"] == "medqa" and overlap["method"] == "ngram" and overlap["item_id"] == item.id
    # the whole question is shared: the longest run spans all its words
    assert overlap["score"] == len(normalize_words(item.question))
    assert " ".join(normalize_words(item.question)).startswith(overlap["match"].rstrip("…"))
    assert [row["instruction"] for row in result.clean] == ["Define hypoxemia in one sentence."]


def test_paraphrase_above_threshold_is_flagged_by_rouge_l_only(bionlp_dir, medqa_index):
    items = medqa_items(bionlp_dir)
    item = pick(items, (60, 140))
    text = paraphrase(item.question)
    assert medqa_index._ngram_overlaps(normalize_words(text)) == {}  # no shared 13-gram anywhere
    (overlap,) = medqa_index.check(text, "", "The answer is C.")
    expected = rouge_scorer.RougeScorer(["rougeL"]).score(item.question, text)["rougeL"].fmeasure
    assert overlap.method == "rouge_l" and overlap.item_id == item.id
    assert overlap.score == expected and expected >= 0.7 and overlap.match == ""
    # a threshold above the score lets it through; n=5 sees its 5-word runs
    stricter = ContaminationIndex(medqa_index.test_sets, rouge_threshold=min(1.0, expected + 0.01))
    assert stricter.check(text) == []
    (short_grams,) = ContaminationIndex(medqa_index.test_sets, ngram=5).check(text)
    assert short_grams.method == "ngram" and short_grams.item_id == item.id


def test_configurable_n_catches_a_shorter_shared_span(bionlp_dir, medqa_index):
    items = medqa_items(bionlp_dir)
    item = pick(items, (60, 140))
    span = " ".join(item.question.split()[20:30])  # ten words from the middle of a vignette
    row = {
        "instruction": "Explain the clinical significance of this finding.",
        "input": span,
        "output": "...",
    }
    assert decontaminate([row], medqa_index).flagged == []
    result = decontaminate([row], ContaminationIndex(medqa_index.test_sets, ngram=8))
    (overlap,) = result.flagged[0]["overlaps"]
    assert overlap["method"] == "ngram" and overlap["item_id"] == item.id and overlap["score"] == 10
    assert overlap["match"] == " ".join(normalize_words(span))


def test_bundled_seeds_and_usmle_boilerplate_are_not_flagged(bionlp_dir):
    index = ContaminationIndex.from_benchmarks("paper", data_files=sample_files(bionlp_dir, *SAMPLE_FILES))
    assert set(index.skipped) == {"mednli", "medication_status", "coreference", "icliniq"}
    seeds = load_seed_tasks()
    vignette = {"instruction": "Answer the question.", "input": VIGNETTE, "output": "Viral myocarditis."}
    report = decontaminate([*seeds, vignette], index).report.to_dict()
    assert report["rows_checked"] == len(seeds) + 1 and report["rows_flagged"] == 0
    # the question stem is a 13-gram of several MedQA items: boilerplate. Counted, it would flag the row.
    everything = ContaminationIndex(index.test_sets[:1], common_ngram_items=0)
    (overlap,) = everything.check(vignette["instruction"], vignette["input"])
    assert overlap.benchmark == "medqa" and "most likely underlying cause of this patients" in overlap.match


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_cli_drops_exactly_the_flagged_rows_and_writes_the_report(bionlp_dir, tmp_path, capsys):
    item = pick(medqa_items(bionlp_dir), (60, 140))
    seeds = [
        {key: task[key] for key in ("id", "instruction", "input", "output")} for task in load_seed_tasks()[:6]
    ]
    planted = [
        {"id": "pasted", "instruction": "Answer the USMLE question.", "input": item.input, "output": "A"},
        {"id": "reworded", "instruction": paraphrase(item.question), "input": "", "output": "C"},
    ]
    data = write_jsonl(tmp_path / "data.jsonl", [seeds[0], planted[0], *seeds[1:4], planted[1], *seeds[4:]])
    files = sample_files(bionlp_dir, "medqa", "medmcqa", "pubmedqa")
    argv = ["decontaminate", str(data), "--benchmarks", "qa", "--no-progress",
            *[f"--data-file={name}={path}" for name, path in files.items()],
            "--report", str(tmp_path / "report.json"), "--output", str(tmp_path / "clean.jsonl")]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert (
        out.startswith(f"decontaminate: 2 of 8 rows of {data} flagged")
        and "skipped bioasq: needs local data" in out
    )
    assert any(line.split()[:4] == ["medqa", "local", "file", files["medqa"]] and line.split()[5:] == ["2", "1", "1"]
               for line in out.splitlines())  # fmt: skip
    clean = [json.loads(line) for line in (tmp_path / "clean.jsonl").read_text().splitlines()]
    assert clean == seeds

    report = json.loads((tmp_path / "report.json").read_text())
    assert list(report) == ["ngram", "rouge_threshold", "tokenizer", "action", "rows_checked", "rows_flagged",
                            "benchmarks", "skipped"]  # fmt: skip
    assert (report["ngram"], report["rouge_threshold"], report["tokenizer"], report["action"]) == (
        13,
        0.7,
        "rouge",
        "drop",
    )
    assert (report["rows_checked"], report["rows_flagged"]) == (8, 2)
    assert list(report["benchmarks"]) == ["medqa", "medmcqa", "pubmedqa"] and list(report["skipped"]) == [
        "bioasq"
    ]
    medqa = report["benchmarks"]["medqa"]
    assert (
        medqa["source"] == f"local file {files['medqa']}"
        and medqa["test_items"] == len(medqa_items(bionlp_dir))
        and medqa["rows_flagged"] == 2
    )
    assert medqa["by_method"] == {"ngram": 1, "rouge_l": 1}
    assert [(e["row_id"], e["item_id"], e["method"]) for e in medqa["examples"]] == [
        ("pasted", item.id, "ngram"),
        ("reworded", item.id, "rouge_l"),
    ]
    for example in medqa["examples"]:
        assert list(example) == ["row_id", "item_id", "method", "score", "row_text", "item_text", "match"]
        assert isinstance(example["score"], float)
        assert (
            len(example["row_text"]) <= 200
            and len(example["item_text"]) <= 200
            and len(example["match"]) <= 200
        )
    assert report["benchmarks"]["pubmedqa"] == {
        "source": f"local file {files['pubmedqa']}", "test_items": len(read_records(files["pubmedqa"])), "rows_flagged": 0,
        "by_method": {"ngram": 0, "rouge_l": 0}, "examples": [],
    }  # fmt: skip


def test_cli_reads_a_generate_output_folder_and_a_json_list(bionlp_dir, tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    write_jsonl(
        run_dir / "instructions.jsonl", [{"id": "gen-1", "instruction": VIGNETTE, "input": "", "output": "x"}]
    )
    medqa = f"medqa={bionlp_dir / 'medqa.jsonl'}"
    assert (
        main(["decontaminate", str(run_dir), "--benchmarks", "medqa", "--data-file", medqa, "--no-progress"])
        == 0
    )
    assert "0 of 1 rows" in capsys.readouterr().out
    alpaca = tmp_path / "alpaca.json"
    alpaca.write_text(json.dumps([{"instruction": VIGNETTE, "input": "", "output": "x"}]))
    assert main(["decontaminate", str(alpaca), "--benchmarks", "medqa", "--data-file", medqa, "--no-progress",
                 "--ngram", "8", "--output", str(tmp_path / "clean.json")]) == 0  # fmt: skip
    assert "0 of 1 rows" in capsys.readouterr().out
    assert json.loads((tmp_path / "clean.json").read_text())[0]["instruction"] == VIGNETTE
    assert main(["decontaminate", str(tmp_path), "--benchmarks", "medqa", "--data-file", medqa]) == 2
    assert "a folder without instructions.jsonl" in capsys.readouterr().err


def test_named_benchmark_without_data_is_one_clear_error(tmp_path, capsys):
    data = write_jsonl(tmp_path / "data.jsonl", [{"instruction": "Define anemia.", "output": "Low Hb."}])
    with pytest.raises(DataError, match="'bioasq' needs local data"):
        load_test_sets(["bioasq"])
    # checked before the Hub is tried for medqa (offline here: that would be an error too, after a wait)
    assert main(["decontaminate", str(data), "--benchmarks", "medqa,bioasq", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs local data" in err and "--data-file bioasq=PATH" in err


def test_group_member_without_data_is_skipped_and_an_empty_group_is_an_error(bionlp_dir):
    test_sets, skipped = load_test_sets("qa", sample_files(bionlp_dir, "medqa", "medmcqa", "pubmedqa"))
    assert [s.name for s in test_sets] == ["medqa", "medmcqa", "pubmedqa"]
    assert list(skipped) == ["bioasq"] and skipped["bioasq"].startswith("needs local data: BioASQ")
    with pytest.raises(
        ConfigError, match=r"no test items to check against in nli \(mednli: needs local data"
    ):
        load_test_sets("nli")


def test_bad_input_is_a_clear_error(medqa_index, tmp_path, capsys):
    with pytest.raises(DataError, match=r"row 1: missing field 'instruction'"):
        decontaminate([{"instruction": "a b c"}, {"output": "x"}], medqa_index)
    with pytest.raises(DataError, match=r"row 0: field 'input' must be a string, got int"):
        decontaminate([{"instruction": "a b c", "input": 3}], medqa_index)
    with pytest.raises(ConfigError, match="ngram must be a whole number >= 1, got 0"):
        ContaminationIndex(medqa_index.test_sets, ngram=0)
    with pytest.raises(ConfigError, match="unknown benchmark 'medqaa'; did you mean 'medqa'"):
        load_test_sets("medqaa")
    data = write_jsonl(tmp_path / "data.jsonl", [{"instruction": "Define anemia.", "output": "Low Hb."}])
    assert main(["decontaminate", str(data), "--benchmarks", "medqa", "--data-file", "medqa"]) == 2
    assert (
        "--data-file expects NAME=PATH (e.g. --data-file medqa=medqa.jsonl), got 'medqa'"
        in capsys.readouterr().err
    )


def test_cli_never_overwrites_its_input_and_checks_its_outputs_before_any_work(bionlp_dir, tmp_path, capsys):
    rows = [{"id": "r1", "instruction": VIGNETTE, "input": "", "output": "x"}]
    data = write_jsonl(tmp_path / "data.jsonl", rows)
    before = data.read_bytes()
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    write_jsonl(run_dir / "instructions.jsonl", rows)
    (tmp_path / "folder").mkdir()
    base = ["--benchmarks", "medqa", "--data-file", f"medqa={bionlp_dir / 'medqa.jsonl'}", "--no-progress"]
    cases = [
        ([str(data), *base, "--output", str(data)], "is the input data"),
        ([str(run_dir), *base, "--output", str(run_dir / "instructions.jsonl")], "is the input data"),
        ([str(data), *base, "--report", str(tmp_path / "folder"), "--output", str(tmp_path / "c.jsonl")],
         "--report '" + str(tmp_path / "folder") + "' is a folder"),
        ([str(data), *base, "--output", str(data / "clean.jsonl")], "is a file, not a folder"),
        ([str(data), *base, "--report", str(tmp_path / "same"), "--output", str(tmp_path / "same")],
         "are the same file"),
    ]  # fmt: skip
    for argv, message in cases:
        assert main(["decontaminate", *argv]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert data.read_bytes() == before and (run_dir / "instructions.jsonl").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.jsonl", "folder", "run"], "nothing written"


def test_cli_reads_a_save_to_disk_folder(bionlp_dir, tmp_path, capsys):
    from datasets import Dataset, DatasetDict

    item = pick(medqa_items(bionlp_dir), (60, 140))
    rows = [
        {"instruction": "Answer the USMLE question.", "input": item.input, "output": "A"},
        {"instruction": "Define anemia.", "input": "", "output": "Low Hb."},
    ]
    Dataset.from_list(rows).save_to_disk(str(tmp_path / "ds"))
    medqa = f"medqa={bionlp_dir / 'medqa.jsonl'}"
    clean = tmp_path / "clean.jsonl"
    argv = [
        "decontaminate",
        str(tmp_path / "ds"),
        "--benchmarks",
        "medqa",
        "--data-file",
        medqa,
        "--no-progress",
    ]
    assert main([*argv, "--output", str(clean)]) == 0
    assert "1 of 2 rows" in capsys.readouterr().out
    assert [json.loads(line) for line in clean.read_text().splitlines()] == rows[1:]
    DatasetDict({"test": Dataset.from_list(rows)}).save_to_disk(str(tmp_path / "dd"))
    assert main(["decontaminate", str(tmp_path / "dd"), "--benchmarks", "medqa", "--data-file", medqa]) == 2
    assert "without a 'train' split (splits: test)" in capsys.readouterr().err


def test_cli_bad_rows_name_the_file_before_benchmarks_load(tmp_path, capsys):
    data = tmp_path / "alpaca.json"
    data.write_text(
        json.dumps([{"instruction": "Define anemia.", "output": "x"}, {"input": "a", "output": "b"}])
    )
    # medqa is not loadable offline without a data file: the row error must come first
    assert main(["decontaminate", str(data), "--benchmarks", "medqa", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == f"bioinstruct: error: {data}: row 1: missing field 'instruction' (fields present: ['input', 'output'])\n"
    )


def test_a_data_file_for_a_mistyped_benchmark_is_an_error_not_a_warning(bionlp_dir):
    with pytest.raises(ConfigError, match=r"given for an unknown benchmark 'medqq'; did you mean 'medqa'"):
        load_test_sets("medqa", {"medqq": bionlp_dir / "medqa.jsonl"})
