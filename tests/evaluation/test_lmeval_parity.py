"""Parity with lm-evaluation-harness: ``--template plain`` is lm-eval's prompt, and on the real
model (SmolLM2-135M-Instruct) our log-likelihood scoring picks what lm-eval picks.

The prompt check runs lm-eval's own ``doc_to_text`` functions (through the local tasks of
``benchmarks/lmeval_tasks/``) over every sample row and needs no model. For MMLU the check builds
lm-eval's own ``mmlu_<subject>`` task over our cais/mmlu-schema rows (``tests/fixtures/bionlp``)
and compares its whole context (description, demonstrations from the dev split, question) at 0, 1
and 3 shots. The slow check runs ``benchmarks/eval_vs_lmeval.py`` on 24 rows of each benchmark
and the 8 MMLU clinical knowledge rows: one lm-eval run (``simple_evaluate`` + ``HFLM``) and one
``Evaluator`` run share the four benchmarks.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

from bioinstruct.benchmarks import get_benchmark
from bioinstruct.evaluation.prompting import render

pytestmark = pytest.mark.samples

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = ["medqa", "medmcqa", "pubmedqa"]
MMLU = ["mmlu_clinical_knowledge", "mmlu_anatomy"]  # the subjects with fixture rows
MMLU_SLOW = ["mmlu_clinical_knowledge"]  # on the real model too: its 8 rows add a few seconds
LMEVAL_HINT = 'lm-eval is a test/bench dependency: pip install -e ".[bench]"'
ROWS = 24  # per benchmark (the shortest prompts): about a minute per side on 2 free cores
# lm-eval's own task of each local task (lm_eval/tasks/<folder>/<file>).
LMEVAL_TASKS = {
    "medqa": "medqa/medqa.yaml",
    "medmcqa": "medmcqa/medmcqa.yaml",
    "pubmedqa": "pubmedqa/pubmedqa.yaml",
}


@cache
def _script() -> ModuleType:
    """``benchmarks/eval_vs_lmeval.py`` (not a package: loaded from its path)."""
    spec = importlib.util.spec_from_file_location("eval_vs_lmeval", REPO / "benchmarks" / "eval_vs_lmeval.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def _local_config(script: ModuleType, benchmark: str) -> dict:
    from lm_eval.tasks._yaml_loader import load_yaml

    return load_yaml(script.TASKS_DIR / f"{script.PAIRS[benchmark].task}.yaml", resolve_func=True)


def _same(a: object, b: object) -> bool:
    """Equal values, or the same function of the same file (lm-eval's loader may load a task's
    module twice, so the function objects can differ)."""
    if callable(a) and callable(b):
        return (a.__code__.co_filename, a.__qualname__) == (b.__code__.co_filename, b.__qualname__)
    return a == b


@pytest.mark.parametrize("benchmark", BENCHMARKS)
def test_local_task_is_lmevals_task_with_local_rows(benchmark: str) -> None:
    """Everything that shapes the prompt and the scoring is lm-eval's own: prompt function,
    choices, target and target delimiter; only the dataset (and a schema conversion) differs."""
    pytest.importorskip("lm_eval", reason=LMEVAL_HINT)
    import lm_eval
    from lm_eval.tasks._yaml_loader import load_yaml

    script = _script()
    ours = _local_config(script, benchmark)
    theirs = load_yaml(Path(lm_eval.__file__).parent / "tasks" / LMEVAL_TASKS[benchmark], resolve_func=True)
    for key in ("output_type", "doc_to_text", "doc_to_choice", "doc_to_target", "target_delimiter"):
        assert _same(ours.get(key), theirs.get(key)), key
    assert ours["dataset_path"] == "json" and ours["test_split"] == theirs["test_split"]


@pytest.mark.parametrize("benchmark", BENCHMARKS)
def test_plain_template_is_lmevals_prompt_on_every_sample_row(benchmark: str, samples_dir: Path) -> None:
    pytest.importorskip("lm_eval", reason=LMEVAL_HINT)
    from datasets import Dataset

    script = _script()
    pair = script.PAIRS[benchmark]
    config = _local_config(script, benchmark)
    lm_file = next(samples_dir / f for f in pair.lmeval_files if (samples_dir / f).is_file())
    docs = Dataset.from_list([json.loads(line) for line in lm_file.read_text(encoding="utf-8").splitlines()])
    if "process_docs" in config:
        docs = config["process_docs"](docs)
    bench = get_benchmark(benchmark)
    items = bench.items(bench.load_rows(samples_dir / pair.ours_file))
    assert len(items) == len(docs) > 50
    for item, doc in zip(items, docs, strict=True):
        prompt = render(item, "plain")
        assert prompt.text == config["doc_to_text"](doc)
        # lm-eval scores target_delimiter (default " ") + choice; so do we.
        assert prompt.target_delimiter == " " and item.labels == config["doc_to_choice"]
        target = config["doc_to_target"]
        gold = target(doc) if callable(target) else doc[target]
        assert item.gold == (gold if isinstance(gold, int) else item.labels.index(gold))


def _lmeval_mmlu_tasks(tmp_path: Path, names: list[str]) -> dict:
    """lm-eval's own MMLU tasks (``eval_vs_lmeval.write_tasks``) over the fixture rows, built."""
    from lm_eval.tasks import TaskManager

    script = _script()
    task_dir = tmp_path / "tasks"
    task_dir.mkdir()
    tasks = script.write_tasks(task_dir, tmp_path / "no-samples", names)  # the rows: FIXTURES
    manager = TaskManager(include_path=str(task_dir), include_defaults=False)
    built = manager.load(list(tasks.values()))["tasks"]
    return {name: built[task] for name, task in tasks.items()}


@pytest.mark.parametrize("benchmark", MMLU)
def test_mmlu_local_task_is_lmevals_own_task_with_local_rows(benchmark: str, tmp_path: Path) -> None:
    """The generated task includes lm-eval's own file and changes nothing but where the rows are."""
    pytest.importorskip("lm_eval", reason=LMEVAL_HINT)
    import lm_eval
    from lm_eval.tasks._yaml_loader import load_yaml

    script = _script()
    script.write_tasks(tmp_path, tmp_path / "no-samples", [benchmark])
    ours = load_yaml(tmp_path / f"{script.PAIRS[benchmark].task}.yaml", resolve_func=True)
    theirs = load_yaml(Path(lm_eval.__file__).parent / "tasks" / "mmlu" / "default" / f"{benchmark}.yaml")
    changed = {"task", "dataset_path", "dataset_name", "dataset_kwargs"}
    for key in sorted((set(ours) | set(theirs)) - changed):  # prompt, description, choices, splits, ...
        assert _same(ours.get(key), theirs.get(key)), key
    assert theirs["dataset_path"] == "cais/mmlu" and theirs["fewshot_split"] == "dev"
    assert sorted(ours["dataset_kwargs"]["data_files"]) == ["dev", "test"]


@pytest.mark.parametrize("shots", [0, 1, 3])
def test_plain_template_is_lmevals_mmlu_prompt(fixtures_dir: Path, tmp_path: Path, shots: int) -> None:
    """lm-eval's MMLU context, character for character: its description once, then ``shots``
    demonstrations from the dev split (lm-eval's ``first_n`` sampler: the first rows; we pass the
    same ones), then the question. (Our own draw is seeded-random: only 0 shots, the leaderboard's
    protocol, gives lm-eval's numbers without choosing the demonstrations.)"""
    pytest.importorskip("lm_eval", reason=LMEVAL_HINT)
    tasks = _lmeval_mmlu_tasks(tmp_path, MMLU)
    for name, task in tasks.items():
        bench = get_benchmark(name)
        items = bench.items(bench.load_rows(fixtures_dir / f"{name}.jsonl"))
        demos = bench.items(bench.load_fewshot_rows(fixtures_dir / f"{name}_dev.jsonl"))[:shots]
        docs = list(task.test_docs())
        assert len(docs) == len(items) == 8
        for doc, item in zip(docs, items, strict=True):
            prompt = render(item, "plain", demos)
            assert prompt.text == task.fewshot_context(doc, shots), name
            assert prompt.target_delimiter == task.config.target_delimiter == " "
            assert item.labels == task.doc_to_choice(doc) and item.gold == task.doc_to_target(doc)


def _shortest_rows(samples_dir: Path, target: Path) -> Path:
    """The ``ROWS`` rows of each benchmark with the shortest prompts, in file order, written to
    ``target`` under the sample file names (both PubMedQA files: their lines are the same items).
    Short prompts keep two forward passes per row affordable on 2 CPU cores; the benchmark
    script runs every row."""
    script = _script()
    for name in BENCHMARKS:
        pair = script.PAIRS[name]
        bench = get_benchmark(name)
        items = bench.items(bench.load_rows(samples_dir / pair.ours_file))
        keep = sorted(sorted(range(len(items)), key=lambda i: len(render(items[i], "plain").text))[:ROWS])
        for file in {pair.ours_file, *pair.lmeval_files}:
            if (samples_dir / file).is_file():
                lines = (samples_dir / file).read_text(encoding="utf-8").splitlines()
                (target / file).write_text("".join(lines[i] + "\n" for i in keep), encoding="utf-8")
    return target


@pytest.fixture(scope="module")
def parity(small_model_dir: Path, samples_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One lm-eval run and one Evaluator run over the three benchmarks (the expensive part)."""
    pytest.importorskip("lm_eval", reason=LMEVAL_HINT)
    rows = _shortest_rows(samples_dir, tmp_path_factory.mktemp("parity-rows"))
    # no MMLU file in ``rows``: the script reads the fixture rows (its FIXTURES fallback)
    return _script().measure(small_model_dir, rows, BENCHMARKS + MMLU_SLOW, batch_size=8, repeat=1)


@pytest.mark.slow
@pytest.mark.parametrize("benchmark", BENCHMARKS + MMLU_SLOW)
def test_real_model_same_picks_and_loglikelihoods_as_lmeval(parity: dict, benchmark: str) -> None:
    figures = parity["benchmarks"][benchmark]
    rows = 8 if benchmark in MMLU_SLOW else ROWS
    assert figures["n"] == rows
    assert figures["same_prompts"] == rows
    differing = [i for i, row in enumerate(figures["rows"]) if row["lm_pick"] != row["our_pick"]]
    assert not differing, f"{benchmark}: rows {differing} pick differently"
    assert figures["max_dll"] <= 1e-3
    assert figures["our_accuracy"] == pytest.approx(figures["lm_accuracy"])


def test_the_package_never_imports_lm_eval() -> None:
    """lm-eval is a test/bench dependency: an installed bioinstruct must work without it."""
    offenders = [
        str(path.relative_to(REPO))
        for path in (REPO / "bioinstruct").rglob("*.py")
        if re.search(r"^\s*(import lm_eval|from lm_eval\b)", path.read_text(encoding="utf-8"), re.M)
    ]
    assert not offenders
