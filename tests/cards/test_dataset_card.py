"""The dataset card: every provenance field of the issue, decontamination, licence, citation, and
templates that break the YAML front matter."""

from __future__ import annotations

import copy
import json

import pytest
from huggingface_hub import DatasetCard

from bioinstruct.cards.dataset import render_dataset_card
from bioinstruct.errors import ConfigError, DataError
from bioinstruct.hub import build_dataset_folder, load_decontamination_report
from bioinstruct.resources import data_path
from bioinstruct.secrets import public_url
from tests.generation.test_hub_card import RUN, make_run

REPORT = {
    "ngram": 13,
    "rouge_threshold": 0.7,
    "tokenizer": "rouge",
    "action": "flag",
    "rows_checked": 4,
    "rows_flagged": 1,
    "benchmarks": {
        "medqa": {
            "source": "GBaker/MedQA-USMLE-4-options [test]",
            "test_items": 1273,
            "rows_flagged": 1,
            "by_method": {"ngram": 1, "rouge_l": 0},
            "examples": [
                {
                    "row_id": "gen-000001-02",
                    "item_id": "medqa-17",
                    "method": "ngram",
                    "score": 1.0,
                    "row_text": "A 23-year-old pregnant woman at 22 weeks gestation presents with burning",
                    "item_text": "A 23-year-old pregnant woman at 22 weeks gestation presents with burning upon urination",
                    "match": "a 23-year-old pregnant woman at 22 weeks gestation presents with burning",
                }
            ],
        },
        "pubmedqa": {
            "source": "qiaojin/PubMedQA/pqa_labeled [train]",
            "test_items": 1000,
            "rows_flagged": 0,
            "by_method": {"ngram": 0, "rouge_l": 0},
            "examples": [],
        },
    },
    "skipped": {"bioasq": "needs local data (--decontamination-data-file bioasq=PATH)"},
}


def full_run() -> dict:
    run = copy.deepcopy(RUN)
    run["config"].update(
        prompt_template="bundled:generate.jinja",
        prompt_template_hash="0123456789abcdef",
        label_template="bundled:label.jinja",
        label_template_hash="fedcba9876543210",
        decontaminate=["medqa", "pubmedqa"],
        max_tokens=3072,
    )
    run["decontamination"] = REPORT
    return run


def test_card_has_every_provenance_field_and_parses_as_a_dataset_card(tmp_path):
    rows = make_run(tmp_path / "run")
    card = render_dataset_card(rows, full_run(), "my-org/bio-4")
    data = DatasetCard(card).data
    assert (data.license, data.license_name, data.pretty_name) == ("other", "teacher-model-terms", "bio-4")
    assert data.configs == [
        {"config_name": "default", "data_files": [{"split": "train", "path": "data/train.jsonl"}]}
    ]
    for line in (
        "| Teacher model | `gpt-4-0613` |",
        "| Generation prompt | `bundled:generate.jinja`, hash `0123456789abcdef` |",
        "| Labelling prompt | `bundled:label.jinja`, hash `fedcba9876543210` |",
        "| Seed set | 80 tasks, hash `abc123def456` |",
        "| Similarity filter | reject at ROUGE-L >= 0.7; tokenizer: `rouge` |",
        "| Cost | $1.23 (at list prices; the provider's bill is authoritative) |",
        "| `similarity` | 4 | ROUGE-L with a seed or an earlier instruction at or above the threshold |",
        "| QA | 2 | 50.0% |",
        "![Category mix](images/category_mix.png)",
        "| medqa | 1273 | 1 | 1 | 0 | GBaker/MedQA-USMLE-4-options [test] |",
        "| pubmedqa | 1000 | 0 | 0 | 0 | qiaojin/PubMedQA/pqa_labeled [train] |",
        "- bioasq: needs local data (--decontamination-data-file bioasq=PATH)",
        "- medqa: row `gen-000001-02` ~ item `medqa-17` (ngram, score 1.0)",
        "@article{tran2024bioinstruct,",
        "@software{bioinstruct,",
    ):
        assert line in card, line
    assert "1 row of\n4 was flagged; action: **flag** (flagged rows are still in the data)" in card
    assert "13-gram" in card and "at\nor above 0.7 (rouge tokenizer)" in card
    # The matched benchmark text is not republished in the card.
    assert "22 weeks gestation" not in card


def test_counts_are_pluralised(tmp_path):
    run = copy.deepcopy(RUN)
    run["counters"].update(candidates=1, truncated_items=1, surplus=1)
    rows = make_run(tmp_path / "run", categories=("QA",))
    card = render_dataset_card(rows, run, "my-org/bio-1")
    assert "1 biomedical instruction generated" in card
    assert "1 candidate was parsed from the teacher's replies; 1 row was kept." in card
    assert "1 item cut off by the token limit was dropped" in card
    assert "1 further candidate passed every filter after the target was reached and was not used" in card
    assert "1 items" not in card and "1 candidates" not in card and "1 rows" not in card


def test_without_decontamination_the_card_says_so_and_shows_the_command(tmp_path):
    rows = make_run(tmp_path / "run")
    card = render_dataset_card(rows, RUN, "my-org/bio-4")
    assert "Decontamination was not run for these rows" in card
    assert (
        "bioinstruct decontaminate OUTPUT_DIR/instructions.jsonl --benchmarks qa --report decontamination.json"
        in card
    )
    assert (
        "bioinstruct push dataset OUTPUT_DIR my-org/bio-4 --decontamination-report decontamination.json"
        in card
    )


def test_a_standalone_report_replaces_run_json_and_a_bad_one_is_named(tmp_path):
    rows = make_run(tmp_path / "run")
    report = dict(
        REPORT, action="drop", rows_flagged=0, benchmarks={"medqa": dict(REPORT["benchmarks"]["medqa"])}
    )
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    card = render_dataset_card(
        rows, full_run(), "my-org/bio-4", decontamination=load_decontamination_report(path)
    )
    assert "action: **drop** (flagged rows are not in the data)" in card and "| pubmedqa |" not in card
    (tmp_path / "bad.json").write_text(json.dumps({"rows_checked": 3}))
    with pytest.raises(DataError, match=r"bad\.json.*is not a decontamination report"):
        load_decontamination_report(tmp_path / "bad.json")
    (tmp_path / "torn.json").write_text('{"benchmarks": ')
    with pytest.raises(DataError, match=r"torn\.json.*is not valid JSON"):
        load_decontamination_report(tmp_path / "torn.json")
    with pytest.raises(DataError, match="cannot read the decontamination report"):
        load_decontamination_report(tmp_path / "missing.json")


def test_license_option(tmp_path):
    rows = make_run(tmp_path / "run")
    card = render_dataset_card(rows, RUN, "my-org/bio-4", license="cc-by-nc-4.0")
    data = DatasetCard(card).data
    assert data.license == "cc-by-nc-4.0" and getattr(data, "license_name", None) is None
    assert "`cc-by-nc-4.0`, as chosen by the publisher" in card
    with pytest.raises(ConfigError, match="license 'CC BY 4.0' is not a Hub licence id"):
        render_dataset_card(rows, RUN, "my-org/bio-4", license="CC BY 4.0")


def test_endpoint_is_shown_without_credentials(tmp_path):
    rows = make_run(tmp_path / "run")
    run = copy.deepcopy(RUN)
    run["config"]["base_url"] = "https://user:sk-secret-1234@llm.example.org:8443/v1?api-key=qs-secret"
    run["config"]["api_key"] = "sk-should-never-be-here"
    card = render_dataset_card(rows, run, "my-org/bio-4")
    assert "at `https://llm.example.org:8443/v1`" in card
    assert (
        "secret" not in card
        and "should-never" not in card
        and "user" not in card.split("## Generation")[1][:400]
    )
    assert public_url(None) is None


def test_template_errors_name_the_template(tmp_path):
    rows = make_run(tmp_path / "run")
    bundled = data_path("data_cards", "dataset_card.md.jinja").read_text()
    cases = {
        "yaml.jinja": (bundled.replace("{{ card_data }}", "{{ card_data }}\nlicense: [oops"), "invalid YAML"),
        "nodata.jinja": (bundled.replace("{{ card_data }}", "language: en"), "'license' is None"),
        "unknown.jinja": (bundled + "{{ no_such_field }}", "unknown variable"),
        "syntax.jinja": (bundled + "{% if %}", "line"),
        "noyaml.jinja": ("# just a title\n", "must start with a YAML block"),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(ConfigError, match=rf"card template '.*{name}'.*{message}"):
            render_dataset_card(rows, RUN, "my-org/bio-4", tmp_path / name)


def test_dataset_folder_holds_rows_card_and_chart(tmp_path):
    rows = make_run(tmp_path / "run")
    assert build_dataset_folder(tmp_path / "out", tmp_path / "run", "my-org/bio-4") == len(rows)
    files = sorted(
        p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*") if p.is_file()
    )
    assert files == [
        "README.md",
        "data/train.jsonl",
        "images/category_mix.png",
        "images/nearest_neighbour.png",
    ]
    assert (tmp_path / "out" / "images" / "category_mix.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "out" / "images" / "nearest_neighbour.png").read_bytes()[:4] == b"\x89PNG"


def test_a_local_test_file_is_named_without_the_directories_of_the_machine(tmp_path):
    rows = make_run(tmp_path / "run")
    run = full_run()
    run["decontamination"] = copy.deepcopy(REPORT)
    run["decontamination"]["benchmarks"]["medqa"]["source"] = (
        "local file /home/someone/private/medqa_test.jsonl"
    )
    card = render_dataset_card(rows, run, "my-org/bio-4")
    assert "| medqa | 1273 | 1 | 1 | 0 | local file medqa_test.jsonl |" in card
    assert "/home/someone" not in card


def test_a_generation_report_counts_candidates_and_local_template_paths_are_not_published(tmp_path):
    rows = make_run(tmp_path / "run")
    run = full_run()
    run["config"].update(prompt_template="/home/alice/prompts/generate.jinja")
    run["decontamination"] = dict(REPORT, action="reject", rows_checked=85)
    card = render_dataset_card(rows, run, "my-org/bio-4")
    # 85 candidates were checked for a dataset of 4 rows: "1 row of 85" would not add up
    assert "1 candidate of\n85 was flagged; action: **reject** (checked during generation" in card
    assert "| Benchmark | Test items | Candidates flagged |" in card
    assert "| Generation prompt | `generate.jinja`, hash `0123456789abcdef` |" in card and "alice" not in card
