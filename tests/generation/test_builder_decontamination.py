"""The builder with ``decontamination=BenchmarkOverlap...``: contaminated candidates are rejected by the
``benchmark_overlap`` rule, journaled and counted like every filter, and the run still ends with
exactly N clean rows; run.json's counts survive a resume (they come from the journal)."""

from __future__ import annotations

import hashlib
import json
from importlib import resources

import pytest

from bioinstruct.cli import main
from bioinstruct.decontamination import BenchmarkOverlap
from bioinstruct.errors import ConfigError, DataError
from bioinstruct.jsonio import read_records
from bioinstruct.testing.openai_server import Reply
from tests.generation.builder_fakes import ScriptedTeacher, good_reply, numbered_item
from tests.generation.test_builder import check_run, make_builder, read_jsonl
from tests.generation.test_decontamination import medqa_items, paraphrase, pick


@pytest.fixture
def planted(bionlp_dir):
    """Two generation replies with contaminated candidates among good ones, and the items they copy."""
    items = medqa_items(bionlp_dir)
    first, second = pick(items, (60, 140)), pick(items[10:], (60, 140))
    reply1 = (
        numbered_item(4, "Answer the following USMLE question.", first.question, "B")  # pasted: 13-grams
        + numbered_item(5, paraphrase(first.question), "<noinput>", "C")  # reworded: ROUGE-L only
        + good_reply("g1", 6, 20)
    )
    reply2 = numbered_item(4, "Answer the exam item.", second.input, "A") + good_reply("g2", 5, 20)
    return {"files": {"medqa": str(bionlp_dir / "medqa.jsonl")}, "items": (first, second),
            "faults": {1: Reply(reply1), 2: Reply(reply2)}}  # fmt: skip


def bundled_hash(name: str) -> str:
    text = resources.files("bioinstruct").joinpath("generation", "prompts", name).read_text("utf-8")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def test_contaminated_candidates_are_rejected_counted_and_survive_resume(tmp_path, openai_server, planted):
    server = openai_server(ScriptedTeacher(faults=planted["faults"]))
    first, second = planted["items"]

    def options(ngram: int = 13) -> dict:
        return {
            "decontamination": BenchmarkOverlap.for_benchmarks(
                ["medqa"], data_files=planted["files"], ngram=ngram
            )
        }

    builder = make_builder(tmp_path, server, **options())
    assert len(builder.build(10)) == 10

    rows, journal, run = check_run(tmp_path, 10)
    assert all(first.question not in row["instruction"] + row["input"] for row in rows)
    counters = run["counters"]
    assert counters["rejected_by_filter"] == {"benchmark_overlap": 2} and counters["candidates"] == 17
    rejected = [e for e in journal if e["event"] == "candidate" and e["decision"] == "rejected"]
    assert [e["id"] for e in rejected] == ["gen-000001-01", "gen-000001-02"]
    assert rejected[0]["reason"].startswith(f"overlaps medqa test item {first.id}: shares ")
    assert rejected[1]["reason"].startswith(f"overlaps medqa test item {first.id}: ROUGE-L 0.")
    assert [o["method"] for e in rejected for o in e["overlap"]] == ["ngram", "rouge_l"]

    report = run["decontamination"]
    assert {k: report[k] for k in ("ngram", "rouge_threshold", "tokenizer", "action")} == {
        "ngram": 13, "rouge_threshold": 0.7, "tokenizer": "rouge", "action": "reject"}  # fmt: skip
    assert (report["rows_checked"], report["rows_flagged"], report["skipped"]) == (17, 2, {})
    medqa = report["benchmarks"]["medqa"]
    assert (medqa["source"], medqa["test_items"], medqa["rows_flagged"]) == (
        f"local file {planted['files']['medqa']}",
        len(read_records(planted["files"]["medqa"])),
        2,
    )
    assert medqa["by_method"] == {"ngram": 1, "rouge_l": 1}
    assert [(e["row_id"], e["item_id"], e["method"]) for e in medqa["examples"]] == [
        ("gen-000001-01", first.id, "ngram"),
        ("gen-000001-02", first.id, "rouge_l"),
    ]
    config = run["config"]
    assert config["decontaminate"] == ["medqa"]
    assert config["prompt_template_hash"] == bundled_hash("generate.jinja")
    assert config["label_template_hash"] == bundled_hash("label.jinja")

    # resume to 25 rows: request 2 brings a third contaminated candidate; session 1's counts stay
    resumed = make_builder(tmp_path, server, **options())
    assert len(resumed.build(25)) == 25
    rows, journal, run = check_run(tmp_path, 25)
    counters, report = run["counters"], run["decontamination"]
    assert counters["rejected_by_filter"] == {"benchmark_overlap": 3}
    assert report["rows_flagged"] == 3 and report["rows_checked"] == counters["candidates"]
    medqa = report["benchmarks"]["medqa"]
    assert medqa["by_method"] == {"ngram": 2, "rouge_l": 1}
    assert [(e["row_id"], e["item_id"]) for e in medqa["examples"]][2] == ("gen-000002-01", second.id)

    # a resume must check candidates as before, or the report would not cover the whole run
    with pytest.raises(
        ConfigError, match=r"generated with decontaminate=\['medqa'\] \(n-gram 13\), now None"
    ):
        make_builder(tmp_path, server).build(30)
    with pytest.raises(ConfigError, match="n-gram 13.*now.*n-gram 8"):
        make_builder(tmp_path, server, **options(ngram=8)).build(30)


def test_benchmark_without_data_fails_before_any_request(tmp_path, openai_server, monkeypatch, capsys):
    server = openai_server(ScriptedTeacher())
    with pytest.raises(DataError, match="benchmark 'bioasq' needs local data"):
        make_builder(tmp_path, server, decontamination=BenchmarkOverlap.for_benchmarks("bioasq")).build(5)
    assert server.requests == []
    with pytest.raises(ConfigError, match="decontamination_ngram must be a whole number >= 1, got 0"):
        BenchmarkOverlap.for_benchmarks("medqa", ngram=0)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key")
    bad = ["generate", "--output-dir", str(tmp_path / "r"), "--base-url", server.base_url, "--num-instructions", "2",
           "--decontamination-data-file", "medqa=x.jsonl"]  # fmt: skip
    assert main(bad) == 2
    assert "--decontamination-data-file was given without --decontaminate" in capsys.readouterr().err


def test_without_decontamination_run_json_says_so(tmp_path, openai_server):
    make_builder(tmp_path, openai_server(ScriptedTeacher())).build(3)
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["decontamination"] is None and run["config"]["decontaminate"] is None


def test_generate_cli_flags(tmp_path, openai_server, monkeypatch, capsys, planted):
    server = openai_server(ScriptedTeacher(faults=planted["faults"]))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key")
    out_dir = tmp_path / "run"
    argv = ["generate", "--output-dir", str(out_dir), "--num-instructions", "8", "--base-url", server.base_url,
            "--max-concurrency", "1", "--no-progress", "--decontaminate", "qa",
            "--decontamination-data-file", f"medqa={planted['files']['medqa']}"]  # fmt: skip
    assert main(argv) == 0
    run = json.loads((out_dir / "run.json").read_text())
    assert run["config"]["decontaminate"] == ["qa"]
    assert run["counters"]["rejected_by_filter"] == {"benchmark_overlap": 2}
    report = run["decontamination"]
    assert list(report["benchmarks"]) == ["medqa"] and report["benchmarks"]["medqa"]["rows_flagged"] == 2
    # the group's other members: bioasq needs a local file; the Hub ones are skipped offline (with the
    # reason) unless the machine's datasets cache holds them
    assert "needs local data" in report["skipped"]["bioasq"]
    assert set(report["skipped"]) | set(report["benchmarks"]) == {"medqa", "medmcqa", "pubmedqa", "bioasq"}
    assert all(
        "is not in the Hugging Face cache and the Hub is offline" in report["skipped"][name]
        for name in set(report["skipped"]) - {"bioasq"}
    )
    assert len(read_jsonl(out_dir / "instructions.jsonl")) == 8
    bad = ["generate", "--output-dir", str(tmp_path / "r2"), "--num-instructions", "2",
           "--decontaminate", "medqa", "--decontamination-data-file", "medqa"]  # fmt: skip
    assert main(bad) == 2
    assert "--decontamination-data-file expects NAME=PATH" in capsys.readouterr().err
