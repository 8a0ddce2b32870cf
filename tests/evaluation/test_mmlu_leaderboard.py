"""The Open Medical-LLM Leaderboard as a group: MedQA, MedMCQA, PubMedQA and six MMLU subjects
(``tasks/mmlu.yaml``, lm-eval's task names), each MMLU item converted from a cais/mmlu row with
lm-eval's prompt under ``--template plain``, few-shot demonstrations from the dev split.

The rows are ours (``tests/fixtures/bionlp/mmlu_*.jsonl``, written by ``make_bionlp.py``); the
comparison with lm-eval itself is in ``test_lmeval_parity.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bioinstruct.benchmarks import HubSource, get_benchmark, list_groups, resolve_benchmarks
from bioinstruct.decontamination.overlap_index import DEFAULT_BENCHMARKS
from bioinstruct.evaluation.evaluator import Evaluator
from bioinstruct.evaluation.prompting import render
from bioinstruct.quickstart_data import QUICKSTART_BENCHMARKS
from tests.evaluation.test_evaluator import ScriptedBackend

#: The leaderboard's subjects, in its (and lm-eval's alphabetical) order, with their test split sizes.
MMLU_SUBJECTS = {
    "anatomy": 135,
    "clinical_knowledge": 265,
    "college_biology": 144,
    "college_medicine": 173,
    "medical_genetics": 100,
    "professional_medicine": 272,
}
LEADERBOARD = ["medqa", "medmcqa", "pubmedqa", *(f"mmlu_{subject}" for subject in MMLU_SUBJECTS)]
CK_PREAMBLE = "The following are multiple choice questions (with answers) about clinical knowledge.\n\n"


def _rows(fixtures_dir: Path, name: str) -> list[dict]:
    lines = (fixtures_dir / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_leaderboard_is_its_nine_tasks_in_order_and_nothing_else_changes() -> None:
    assert [bench.name for bench in resolve_benchmarks("leaderboard")] == LEADERBOARD
    groups = list_groups()
    assert groups["mmlu_medical"] == LEADERBOARD[3:]
    # the paper's groups and the lists built on them are untouched
    assert groups["qa"] == ["medqa", "medmcqa", "pubmedqa", "bioasq"]
    assert not any(name.startswith("mmlu_") for name in groups["paper"])
    assert DEFAULT_BENCHMARKS == QUICKSTART_BENCHMARKS == ("medqa", "medmcqa", "pubmedqa", "bioasq")


@pytest.mark.parametrize(("subject", "n_items"), MMLU_SUBJECTS.items())
def test_each_mmlu_subject_is_declared_as_lmevals_task(subject: str, n_items: int) -> None:
    bench = get_benchmark(f"mmlu_{subject}")
    assert bench.groups == ("mmlu_medical", "leaderboard") and bench.task == "multiple_choice"
    assert bench.hub == HubSource("cais/mmlu", subject, "test")
    assert bench.fewshot_hub == HubSource("cais/mmlu", subject, "dev")
    words = subject.replace("_", " ")
    # lm-eval's description (lm_eval/tasks/mmlu/default/mmlu_<subject>.yaml), shown once by `plain`
    assert bench.preamble == f"The following are multiple choice questions (with answers) about {words}.\n\n"
    assert bench.items_note == f"test split ({n_items} items)"
    assert bench.default_num_fewshot == 0 and "mmlu.yaml" in bench.declared_in.replace("\\", "/")


@pytest.mark.parametrize("subject", ["anatomy", "clinical_knowledge"])
def test_mmlu_items_convert_from_cais_mmlu_rows(fixtures_dir: Path, subject: str) -> None:
    name = f"mmlu_{subject}"
    rows = _rows(fixtures_dir, name)
    bench = get_benchmark(name)
    items = bench.items(bench.load_rows(fixtures_dir / f"{name}.jsonl"))
    assert len(items) == len(rows) == 8
    for item, row in zip(items, rows, strict=True):
        assert item.labels == ["A", "B", "C", "D"] and item.choices == row["choices"]
        assert item.answer_text == "ABCD"[row["answer"]]  # cais/mmlu's answer is a 0-based index
        assert item.question == row["question"].strip()


def test_plain_prompt_is_lmevals_mmlu_prompt(fixtures_dir: Path) -> None:
    bench = get_benchmark("mmlu_clinical_knowledge")
    items = bench.items(bench.load_rows(fixtures_dir / "mmlu_clinical_knowledge.jsonl"))
    # item 6's question ends with " \n": stripped, as lm-eval's question.strip()
    prompt = render(items[6], "plain")
    assert prompt.text == (
        CK_PREAMBLE + "Where is an intramuscular injection into the deltoid given in an adult?\n"
        "A. The lateral upper arm, below the acromion\nB. The anterior thigh\nC. The forearm\nD. The abdomen\n"
        "Answer:"
    )
    assert prompt.target_delimiter == " "  # options scored as " A" ... " D", as lm-eval's doc_to_choice
    # the other templates carry the instruction instead of lm-eval's description
    paper = render(items[6], "bioinstruct").text
    assert "The following are" not in paper and "about clinical knowledge. Reply with the letter" in paper


def test_fewshot_demonstrations_come_from_the_dev_split(fixtures_dir: Path, monkeypatch) -> None:
    """No --fewshot-file: the pool is the declaration's dev split (the Hub, faked here with our rows);
    the preamble comes once, then each demonstration with its answer, then the question."""
    import datasets

    asked: list[tuple] = []
    dev_rows = _rows(fixtures_dir, "mmlu_clinical_knowledge_dev")

    def load_dataset(path: str, name: str | None = None, split: str | None = None, **kwargs: object) -> list:
        asked.append((path, name, split))
        return dev_rows

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    backend = ScriptedBackend(loglik=lambda context, conts: [-1.0] * len(conts))
    result = Evaluator("m", backend=backend, progress=False).run(
        "mmlu_clinical_knowledge",
        data_files={"mmlu_clinical_knowledge": fixtures_dir / "mmlu_clinical_knowledge.jsonl"},
        num_fewshot=2,
        template="plain",
        protocol="loglik",
    )
    # the few-shot pool only (the test rows are the local file)
    assert asked == [("cais/mmlu", "clinical_knowledge", "dev")]
    (bench_result,) = result.results
    demo_ids = bench_result.protocol["demo_ids"]
    assert len(demo_ids) == 2 and bench_result.protocol["num_fewshot"] == 2
    bench = get_benchmark("mmlu_clinical_knowledge")
    demos = [bench.items(dev_rows)[int(i)] for i in demo_ids]  # cais/mmlu rows have no id: the row index
    shots = "".join(f"{demo.input}\nAnswer: {demo.answer_text}\n\n" for demo in demos)
    first = bench_result.samples[0]["prompt"]
    assert first == CK_PREAMBLE + shots + "What is the normal resting respiratory rate of an adult (breaths per " \
        "minute)?\nA. 4-8\nB. 12-20\nC. 24-30\nD. 32-40\nAnswer:"  # fmt: skip
    assert all(sample["prompt"].count("The following are") == 1 for sample in bench_result.samples)
