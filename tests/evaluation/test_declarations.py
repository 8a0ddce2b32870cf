"""Benchmarks as data: a YAML declaration registers a benchmark without Python (MMLU virology here,
as lm-eval's 8-line YAML task; the leaderboard's six MMLU subjects are built in), ``include:`` shares
a family's fields, a mistake in a declaration is one line naming file:line, and ``select`` alone
decides what runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bioinstruct.benchmarks import get_benchmark, list_benchmarks, register_yaml, select
from bioinstruct.benchmarks import registry as benchmark_registry
from bioinstruct.cli import main
from bioinstruct.errors import ConfigError, DataError

MMLU_YAML = """\
# MMLU virology (cais/mmlu), few-shot from its dev split: no Python needed.
name: mmlu_virology
groups: [mmlu_more]
task: multiple_choice
hub: {path: cais/mmlu, name: virology, split: test}
fewshot_hub: {path: cais/mmlu, name: virology, split: dev}
to_item: multiple_choice
instruction: Answer the multiple-choice question about virology with the letter of the correct option.
"""

#: Rows we wrote in cais/mmlu's schema (question, subject, choices, answer as a 0-based index).
MMLU_ROWS = [
    {"question": "Which enzyme do retroviruses use to copy their RNA genome into DNA?", "subject": "virology",
     "choices": ["DNA polymerase I", "Reverse transcriptase", "RNA ligase", "Primase"], "answer": 1},
    {"question": "The incubation period of seasonal influenza (days) is usually:", "subject": "virology",
     "choices": ["10-14", "7-10", "1-4", "21-28"], "answer": 2},
    {"question": "Which virus causes shingles when it reactivates?", "subject": "virology",
     "choices": ["Varicella-zoster virus", "Epstein-Barr virus", "Rubella virus", "Measles virus"], "answer": 0},
]  # fmt: skip


@pytest.fixture
def declared(tmp_path: Path):
    """Write YAML declarations into tmp_path; names registered by the test are removed afterwards."""
    before = {bench.name for bench in list_benchmarks()}  # the built-ins loaded first: they stay

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    yield write
    for name in set(benchmark_registry._REGISTRY) - before:
        del benchmark_registry._REGISTRY[name]


def _mmlu_file(tmp_path: Path) -> Path:
    data = tmp_path / "mmlu_virology.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in MMLU_ROWS), encoding="utf-8")
    return data


def test_mmlu_virology_is_one_yaml_file(declared, tmp_path):
    folder = declared("mmlu_virology.yaml", MMLU_YAML).parent
    assert [bench.name for bench in register_yaml(folder)] == ["mmlu_virology"]
    bench = get_benchmark("mmlu_virology")
    assert bench.groups == ("mmlu_more",) and bench.hub.describe() == "cais/mmlu/virology [test]"
    assert bench.declared_in == f"{folder / 'mmlu_virology.yaml'}:2"
    items = bench.items(bench.load_rows(_mmlu_file(tmp_path)))
    assert [item.gold for item in items] == [1, 2, 0] and items[0].labels == ["A", "B", "C", "D"]
    # lm-eval's MMLU prompt text: the question, then one "A. ..." line per choice
    assert items[1].input == (
        "The incubation period of seasonal influenza (days) is usually:\nA. 10-14\nB. 7-10\nC. 1-4\nD. 21-28"
    )
    assert items[0].instruction.startswith("Answer the multiple-choice question about virology")
    # it is not in the qa group, so neither the quickstart's list nor decontamination's default changes
    assert "mmlu_virology" not in [b.name for b in list_benchmarks("qa")]


def test_registering_the_same_file_again_replaces_its_declarations(declared):
    path = declared("mmlu.yaml", MMLU_YAML)
    first = register_yaml(path)
    again = register_yaml(path)  # a rerun from evaluate.yaml in the same process
    assert get_benchmark("mmlu_virology") is again[0] is not first[0]
    assert get_benchmark("medqa").declared_in.replace("\\", "/").split("/")[-1].startswith("qa.yaml")


def test_decontamination_checks_against_a_yaml_benchmark(declared, tmp_path, capsys):
    declared("mmlu_virology.yaml", MMLU_YAML)
    rows = tmp_path / "rows.jsonl"
    copied = {"instruction": "Answer.", "input": MMLU_ROWS[1]["question"], "output": "1-4"}
    fresh = {"instruction": "Name the largest organ of the human body.", "input": "", "output": "The skin."}
    rows.write_text(json.dumps(copied) + "\n" + json.dumps(fresh) + "\n", encoding="utf-8")
    report = tmp_path / "report.json"
    argv = ["decontaminate", str(rows), "--include-path", str(tmp_path), "--benchmarks", "mmlu_virology",
            "--data-file", f"mmlu_virology={_mmlu_file(tmp_path)}", "--report", str(report), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    assert json.loads(report.read_text())["benchmarks"]["mmlu_virology"]["rows_flagged"] == 1


def test_a_yaml_benchmark_is_evaluated_end_to_end(declared, tmp_path, tiny_model_dir, capsys, monkeypatch):
    declared("mmlu_virology.yaml", MMLU_YAML)
    _mmlu_file(tmp_path)
    out = tmp_path / "eval"
    monkeypatch.chdir(tmp_path)  # relative paths, as a user types them
    argv = ["evaluate", "--model", str(tiny_model_dir), "--include-path", ".",
            "--benchmarks", "mmlu_virology", "--data-file", "mmlu_virology=mmlu_virology.jsonl",
            "--template", "plain", "--device", "cpu", "--output-dir", str(out)]  # fmt: skip
    assert main(argv) == 0
    (result,) = json.loads((out / "results.json").read_text())["results"]
    assert result["benchmark"] == "mmlu_virology" and result["n"] == 3
    assert 0.0 <= result["metrics"]["accuracy"] <= 1.0
    # evaluate.yaml holds absolute paths: it reruns from any folder and registers the benchmark again
    monkeypatch.chdir(tiny_model_dir)
    assert main(["evaluate", "--config", str(out / "evaluate.yaml")]) == 0
    assert json.loads((out / "results.json").read_text())["results"][0]["metrics"] == result["metrics"]


def test_include_gives_a_family_its_defaults(declared, tmp_path):
    declared("_mmlu.yaml", "groups: [mmlu_more]\ntask: multiple_choice\nto_item: multiple_choice\n")
    declared(
        "mmlu.yaml",
        "include: _mmlu.yaml\nname: mmlu_nutrition\nhub: {path: cais/mmlu, name: nutrition}\ninstruction: Nutrition.\n"
        "---\ninclude: _mmlu.yaml\nname: mmlu_human_aging\ngroups: [mmlu_more, mine]\n"
        "hub: {path: cais/mmlu, name: human_aging}\n",
    )
    declared_now = register_yaml(tmp_path)  # _mmlu.yaml is a base, not a declaration
    assert [(b.name, b.groups, b.task) for b in declared_now] == [
        ("mmlu_nutrition", ("mmlu_more",), "multiple_choice"),
        ("mmlu_human_aging", ("mmlu_more", "mine"), "multiple_choice"),
    ]
    assert declared_now[1].declared_in.endswith("mmlu.yaml:6")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (MMLU_YAML.replace("to_item:", "to_itme:"), r"mmlu\.yaml:7: unknown field 'to_itme'; did you mean 'to_item'"),
        (MMLU_YAML.replace("to_item: multiple_choice", "to_item: multiple_choise"),
         r"mmlu\.yaml:7: to_item: unknown converter 'multiple_choise'; did you mean 'multiple_choice'"),
        (MMLU_YAML.replace("task: multiple_choice", "task: ranking"), r"mmlu\.yaml:4: task must be"),
        (MMLU_YAML.replace("name: mmlu_virology\n", ""), r"mmlu\.yaml:2: a benchmark declaration needs name"),
        (MMLU_YAML.replace("hub: {", "hub: ["), r"mmlu\.yaml:\d+: invalid YAML"),
        (MMLU_YAML.replace("task: multiple_choice", "task: generation"), r"needs a metric"),
        (MMLU_YAML.replace("to_item: multiple_choice", "to_item: free_text\nmetric: rogue\ntask: generation")
         .replace("task: multiple_choice\n", ""), r"metric: unknown scorer 'rogue'; did you mean 'rouge'"),
        (MMLU_YAML + "max_new_tokens: lots\n", r"mmlu\.yaml:9: max_new_tokens must be a int, got 'lots'"),
        (MMLU_YAML + "default_num_fewshot: -1\n", r"default_num_fewshot must be at least 0, got -1"),
        (MMLU_YAML + "corpus_metrics: rouge\n", r"unknown field 'corpus_metrics'"),  # callables: Python only
        (MMLU_YAML + "primary_metric: acc\n", r"multiple_choice benchmark is scored by accuracy, not 'acc'"),
        (MMLU_YAML.replace("name: mmlu_virology", "name: medqa"),
         r"mmlu\.yaml:2: benchmark 'medqa' is already declared in .*tasks/qa\.yaml:\d+; give yours another name"),
        (MMLU_YAML.replace("name: mmlu_virology", "name: mmlu_clinical_knowledge"),  # a leaderboard subject: built in
         r"mmlu\.yaml:2: benchmark 'mmlu_clinical_knowledge' is already declared in .*tasks/mmlu\.yaml:\d+"),
        (MMLU_YAML + "---\n" + MMLU_YAML, r"mmlu\.yaml:\d+: benchmark 'mmlu_virology' is already declared in .*mmlu\.yaml:2"),
    ],
)  # fmt: skip
def test_a_wrong_declaration_is_one_line_naming_the_file_and_line(declared, text, message):
    path = declared("mmlu.yaml", text)
    with pytest.raises(ConfigError, match=message):
        register_yaml(path)
    assert "mmlu_virology" not in benchmark_registry._REGISTRY


def test_a_missing_field_in_a_row_names_it(declared, tmp_path):
    register_yaml(declared("mmlu.yaml", MMLU_YAML))
    bench = get_benchmark("mmlu_virology")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "q", "answer": 0}) + "\n", encoding="utf-8")
    with pytest.raises(
        Exception, match=r"row 0 .* \(KeyError: 'choices'\); expected the fields of cais/mmlu"
    ):
        bench.items(bench.load_rows(bad))


def test_every_builtin_declaration_comes_from_the_bundled_yaml():
    for bench in list_benchmarks():
        assert bench.declared_in and "/benchmarks/tasks/" in bench.declared_in.replace("\\", "/"), bench.name
        assert bench.instruction or bench.name == "instructions", (
            f"{bench.name}: its instruction lives in YAML"
        )


def test_select_optional_treats_every_name_as_a_group_member(fixtures_dir):
    loaded, skipped = select(("medqa", "bioasq"), {"medqa": fixtures_dir / "medqa.jsonl"}, optional=True)
    assert [entry.benchmark.name for entry in loaded] == ["medqa"] and "needs local data" in skipped["bioasq"]
    assert select(("bioasq",), None, optional=True) == ([], {"bioasq": skipped["bioasq"]})
    with pytest.raises(DataError, match="needs local data"):
        select(("medqa", "bioasq"), {"medqa": fixtures_dir / "medqa.jsonl"})  # named: must load
