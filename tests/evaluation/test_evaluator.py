"""Evaluator: scoring, protocols, groups, judge hook, resume from cache, and a real tiny-model run."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from bioinstruct.benchmarks import Benchmark, Item, register_benchmark
from bioinstruct.benchmarks.rows import read_json_rows
from bioinstruct.errors import ConfigError, DataError
from bioinstruct.evaluation import evaluator as evaluator_module
from bioinstruct.evaluation.evaluator import Evaluator
from bioinstruct.evaluation.prompting import Prompt
from tests.evaluation.e1_eval_helpers import make_lora_adapter, qa_data_files


class ScriptedBackend:
    """A backend whose answers are computed from the prompt by a test function."""

    supports_loglikelihood = True
    model_name = "scripted"

    def __init__(
        self, loglik: Callable | None = None, generate: Callable | None = None, fail_after: int | None = None
    ):
        self._loglik, self._generate, self.fail_after = loglik, generate, fail_after
        self.scored: list[str] = []

    def variants(self) -> list[str | None]:
        return [None]

    def set_variant(self, adapter: str | None) -> None:
        pass

    def prompt_text(self, prompt: Prompt) -> str:
        return prompt.text or prompt.messages[-1]["content"]

    def _tick(self, n: int) -> None:
        if self.fail_after is not None and len(self.scored) + n > self.fail_after:
            raise KeyboardInterrupt("simulated interruption")

    def loglikelihood(
        self, requests: Sequence[tuple[str, Sequence[str]]], progress: Any = None
    ) -> list[list[float]]:
        self._tick(len(requests))
        self.scored += [context for context, _ in requests]
        return [self._loglik(context, conts) for context, conts in requests]

    def generate(
        self,
        prompts: Sequence[Prompt],
        *,
        max_new_tokens: int,
        stop: Sequence[str] = (),
        progress: Any = None,
    ) -> list[str]:
        self._tick(len(prompts))
        texts = [self.prompt_text(p) for p in prompts]
        self.scored += texts
        return [self._generate(text) for text in texts]

    def info(self) -> dict[str, Any]:
        return {"backend": "scripted"}

    def close(self) -> None:
        pass


def medqa_rows(fixtures_dir: Path) -> list[dict]:
    return [
        json.loads(line) for line in (fixtures_dir / "medqa.jsonl").read_text(encoding="utf-8").splitlines()
    ]


def gold_letter(fixtures_dir: Path) -> dict[str, str]:
    """question text -> gold letter, to script a backend that knows (or deliberately misses) answers."""
    return {row["question"]: row["answer_idx"] for row in medqa_rows(fixtures_dir)}


def test_loglik_scoring_accuracy_and_ci(fixtures_dir: Path) -> None:
    gold = gold_letter(fixtures_dir)
    rows = medqa_rows(fixtures_dir)[:20]
    wrong = {row["question"] for row in rows[:5]}  # the backend gets the first five wrong

    def loglik(context: str, conts: Sequence[str]) -> list[float]:
        question = next(q for q in gold if f"Question: {q}\n" in context)
        target = gold[question] if question not in wrong else "ABCD"[("ABCD".index(gold[question]) + 1) % 4]
        return [-1.0 if cont.strip() == target else -3.0 for cont in conts]

    files = {"medqa": str(fixtures_dir / "medqa.jsonl")}
    result = (
        Evaluator("m", backend=ScriptedBackend(loglik), progress=False)
        .run("medqa", limit=20, data_files=files, template="plain")
        .get("medqa")
    )
    assert result.n == 20 and result.metrics["accuracy"] == pytest.approx(0.75)
    assert result.unparseable is None
    low, high = result.ci
    assert 0.5 <= low < 0.75 < high <= 1.0
    assert result.protocol["protocol"] == "loglikelihood" and result.protocol["num_fewshot"] == 0
    assert result.protocol["template"] == "plain" and "medqa.jsonl" in result.protocol["data_source"]
    assert [s["correct"] for s in result.samples] == [False] * 5 + [True] * 15
    assert (
        result.samples[0]["prompt"].startswith("Question: ") and len(result.samples[0]["loglikelihoods"]) == 4
    )


def test_generative_protocol_parses_and_counts_unparseable(fixtures_dir: Path) -> None:
    gold = gold_letter(fixtures_dir)
    rows = medqa_rows(fixtures_dir)[:8]
    styles = ["{l}", "({l}) {t}", "The answer is {l}.", "{t}", "I am not sure.", "", "{l})", "Answer: {l}"]
    script = {
        row["question"]: style.format(l=row["answer_idx"], t=row["answer"])
        for row, style in zip(rows, styles, strict=True)
    }

    def generate(text: str) -> str:
        return next(answer for question, answer in script.items() if question in text)

    result = (
        Evaluator("m", backend=ScriptedBackend(generate=generate), progress=False)
        .run("medqa", limit=8, data_files={"medqa": str(fixtures_dir / "medqa.jsonl")}, protocol="generate")
        .get("medqa")
    )
    assert result.unparseable == 2 and result.metrics["accuracy"] == pytest.approx(6 / 8)
    assert result.protocol["protocol"] == "generative" and result.protocol["template"] == "bioinstruct"
    assert [s["prediction"] for s in result.samples][4:6] == [None, None]
    assert gold  # the script used the gold letters of the rows


def test_groups_skip_local_only_sets_and_explicit_names_fail(fixtures_dir: Path) -> None:
    backend = ScriptedBackend(lambda context, conts: [0.0] * len(conts))
    files = {
        "medqa": str(fixtures_dir / "medqa.jsonl"),
        "medmcqa": str(fixtures_dir / "medmcqa.jsonl"),
        "pubmedqa": str(fixtures_dir / "pubmedqa.jsonl"),
    }
    results = Evaluator("m", backend=backend, progress=False).run("qa", limit=2, data_files=files)
    assert results.benchmarks == ["medqa", "medmcqa", "pubmedqa"]
    assert "bioasq" in results.skipped and "registration" in results.skipped["bioasq"]
    with pytest.raises(DataError, match="bioasq"):
        Evaluator("m", backend=backend, progress=False).run("bioasq")
    with pytest.raises(ConfigError, match="unknown protocol"):
        Evaluator("m", backend=backend, progress=False).run("medqa", protocol="mc")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="no train split"):
        Evaluator("m", backend=backend, progress=False).run(
            "bioasq", num_fewshot=1, data_files={"bioasq": str(fixtures_dir / "bioasq_yesno.jsonl")}
        )


def test_fewshot_from_a_supplied_file_excludes_evaluated_items(fixtures_dir: Path) -> None:
    seen: list[str] = []
    backend = ScriptedBackend(lambda context, conts: seen.append(context) or [0.0] * len(conts))
    path = str(fixtures_dir / "medmcqa.jsonl")
    result = (
        Evaluator("m", backend=backend, progress=False)
        .run(
            "medmcqa",
            limit=5,
            num_fewshot=2,
            seed=3,
            data_files={"medmcqa": path},
            fewshot_files={"medmcqa": path},
            template="plain",
        )
        .get("medmcqa")
    )
    demo_ids = result.protocol["demo_ids"]
    assert len(demo_ids) == 2 and not set(demo_ids) & {s["id"] for s in result.samples}
    assert result.protocol["num_fewshot"] == 2 and result.protocol["fewshot_seed"] == 3
    # The protocol says which items were scored: the supplied file (not the Hub's 4,183-item split).
    assert (
        result.protocol["items"] == f"every row of the supplied file ({len(read_json_rows(Path(path)))} rows)"
    )
    assert all(context.count("\nAnswer:") == 3 for context in seen)


def test_resume_after_interruption_recomputes_nothing_done(
    fixtures_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(evaluator_module, "_CHUNK", 4)
    files = {"medqa": str(fixtures_dir / "medqa.jsonl")}

    def loglik(context: str, conts: Sequence[str]) -> list[float]:
        return [-float((len(context) + i) % 5) for i in range(len(conts))]

    first = ScriptedBackend(loglik, fail_after=8)
    with pytest.raises(KeyboardInterrupt):
        Evaluator("m", backend=first, cache_dir=tmp_path, progress=False).run(
            "medqa", limit=12, data_files=files
        )
    assert len(first.scored) == 8  # two chunks of four were scored and cached
    second = ScriptedBackend(loglik)
    resumed = Evaluator("m", backend=second, cache_dir=tmp_path, progress=False).run(
        "medqa", limit=12, data_files=files
    )
    assert len(second.scored) == 4  # only the last chunk
    fresh = Evaluator("m", backend=ScriptedBackend(loglik), progress=False).run(
        "medqa", limit=12, data_files=files
    )
    assert resumed.get("medqa").samples == fresh.get("medqa").samples
    third = ScriptedBackend(loglik)
    Evaluator("m", backend=third, cache_dir=tmp_path, progress=False).run("medqa", limit=12, data_files=files)
    assert third.scored == []
    # Another protocol, template or adapter is another cache entry.
    fourth = ScriptedBackend(loglik)
    Evaluator("m", backend=fourth, cache_dir=tmp_path, progress=False).run(
        "medqa", limit=12, data_files=files, template="plain"
    )
    assert len(fourth.scored) == 12


def test_weights_retrained_in_place_are_not_served_from_the_cache(fixtures_dir: Path, tmp_path: Path) -> None:
    files = {"medqa": str(fixtures_dir / "medqa.jsonl")}
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"old weights")

    def loglik(context: str, conts: Sequence[str]) -> list[float]:
        return [0.0] * len(conts)

    def run() -> ScriptedBackend:
        backend = ScriptedBackend(loglik)
        Evaluator(str(model), backend=backend, cache_dir=tmp_path / "cache", progress=False).run(
            "medqa", limit=3, data_files=files
        )
        return backend

    assert len(run().scored) == 3
    assert run().scored == []  # same weights: all from the cache
    (model / "model.safetensors").write_bytes(b"retrained weights")
    assert len(run().scored) == 3  # new weights in the same folder: scored again


@pytest.mark.parametrize("template", ["bioinstruct", "alpaca"])
def test_generation_stops_where_the_model_starts_the_next_demonstration(
    fixtures_dir: Path, template: str
) -> None:
    """One-shot prompts teach a model to write the next demonstration after its answer; that
    text must be cut, not scored as extra entity mentions."""
    from bioinstruct.benchmarks import get_benchmark
    from bioinstruct.benchmarks.metrics import entity_counts, parse_entity_list
    from bioinstruct.evaluation.backends import cut_at_stop
    from bioinstruct.evaluation.prompting import render

    bench = get_benchmark("bc5cdr_chem")
    items = bench.items(bench.load_rows(fixtures_dir / "bc5cdr_chem.jsonl"))
    continuation = "dobutamine\n\n" + render(items[1], template).text + "contrast"
    answer = cut_at_stop(continuation, evaluator_module._stop_strings(template)).strip()
    assert answer == "dobutamine"
    assert entity_counts(parse_entity_list(answer), items[0].reference) == (1, 0, 0)


class ScriptedJudge:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[dict]]] = []

    def score(self, benchmark: str, items: list[dict]) -> Any:
        from types import SimpleNamespace

        self.calls.append((benchmark, items))
        per_item = [{"coherence": 5 if item["prediction"] == item["reference"] else 2} for item in items]
        return SimpleNamespace(
            per_item=per_item,
            summary={"coherence": sum(p["coherence"] for p in per_item) / len(items)},
            protocol={"judge_model": "scripted", "reference_position": "before_response"},
            cost_usd=0.25,
        )


def test_generation_benchmark_corpus_metrics_and_judge_hook(tmp_path: Path) -> None:
    def to_item(row: dict, index: int) -> Item:
        return Item(
            id=str(index),
            instruction="Name the organ.",
            input=row["text"],
            reference=row["organ"],
            question=row["text"],
        )

    register_benchmark(
        Benchmark(
            name="e1_eval_organs",
            groups=("e1_eval",),
            task="generation",
            to_item=to_item,
            corpus_metrics=lambda p, r, rows: {
                "exact": sum(a == b for a, b in zip(p, r, strict=True)) / len(r),
                "n_rows": len(rows),
            },
            item_score=lambda p, r, row: float(p == r),
            primary_metric="exact",
            judge_axes=("coherence",),
            how_to_get="hand-written",
            max_new_tokens=5,
        )
    )
    data = tmp_path / "organs.jsonl"
    data.write_text(
        "\n".join(
            json.dumps(r)
            for r in [{"text": "insulin", "organ": "pancreas"}, {"text": "bile", "organ": "liver"}]
        )
        + "\n"
    )
    backend = ScriptedBackend(generate=lambda text: "pancreas")
    judge = ScriptedJudge()
    result = (
        Evaluator("m", backend=backend, progress=False)
        .run("e1_eval_organs", data_files={"e1_eval_organs": str(data)}, judge=judge)
        .get("e1_eval_organs")
    )
    assert result.metrics == {
        "exact": 0.5,
        "n_rows": 2.0,
        "judge_coherence": 3.5,
        "judge_n": 2,
        "judge_unscored": 0,
        "judge_copied_example": 0,
    }
    # Both predictions are the same text: the diagnostics say so.
    assert result.diagnostics["constant"] and result.diagnostics["empty"] == 0
    assert any("all 2 predictions are the same text" in line for line in result.warnings)
    assert result.protocol["protocol"] == "generative" and result.protocol["judge"]["cost_usd"] == 0.25
    assert [s["score"] for s in result.samples] == [1.0, 0.0]
    assert [s["judge"] for s in result.samples] == [{"coherence": 5}, {"coherence": 2}]
    assert judge.calls[0][1][1] == {
        "id": "1",
        "question": "bile",
        "prediction": "pancreas",
        "reference": "liver",
    }


@pytest.fixture(scope="module")
def lora_adapter(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_lora_adapter(tiny_model_dir, tmp_path_factory.mktemp("lora") / "bioinstruct-lora")


def _tiny_run(
    tiny_model_dir: Path, adapter: Path, data_dir: Path, limit: int, protocol: str, cache: Path | None
):
    return Evaluator(
        str(tiny_model_dir),
        adapters=[str(adapter)],
        cache_dir=cache,
        progress=False,
        backend_options={"device": "cpu", "batch_size": 8},
    ).run("qa", limit=limit, data_files=qa_data_files(data_dir), protocol=protocol, template="plain")


def test_tiny_model_and_unmerged_adapter_end_to_end(
    tiny_model_dir: Path, lora_adapter: Path, fixtures_dir: Path, tmp_path: Path
) -> None:
    results = _tiny_run(tiny_model_dir, lora_adapter, fixtures_dir, 3, "loglik", tmp_path / "cache")
    assert results.variants == [tiny_model_dir.name, f"{tiny_model_dir.name} + bioinstruct-lora"]
    for name in ("medqa", "medmcqa", "pubmedqa", "bioasq"):
        base, tuned = results.get(name), results.get(name, adapter="bioinstruct-lora")
        assert base.n == tuned.n == 3
        assert tuned.protocol["adapter_path"] == str(lora_adapter)
        assert base.metrics["accuracy"] == sum(s["correct"] for s in base.samples) / 3
        assert [s["loglikelihoods"] for s in base.samples] != [s["loglikelihoods"] for s in tuned.samples]
    # The base column of a run with adapters equals a run of the bare model (adapters really disabled).
    alone = (
        Evaluator(str(tiny_model_dir), progress=False, backend_options={"device": "cpu"})
        .run("medqa", limit=3, data_files=qa_data_files(fixtures_dir), template="plain")
        .get("medqa")
    )
    for a, b in zip(alone.samples, results.get("medqa").samples, strict=True):
        assert a["loglikelihoods"] == pytest.approx(b["loglikelihoods"], abs=1e-4)


@pytest.mark.slow
@pytest.mark.samples
@pytest.mark.parametrize("protocol", ["loglik", "generate"])
def test_tiny_model_few_dozen_rows_each_qa_set(
    tiny_model_dir: Path, lora_adapter: Path, samples_dir: Path, tmp_path: Path, protocol: str
) -> None:
    results = _tiny_run(tiny_model_dir, lora_adapter, samples_dir, 24, protocol, tmp_path / "cache")
    assert len(results.results) == 8
    for result in results.results:
        assert result.n == 24 and 0.0 <= result.metrics["accuracy"] <= 1.0
        assert (result.unparseable is None) == (protocol == "loglik")
    out = results.save(tmp_path / "out")
    assert (out / "results.png").is_file() and (out / "samples" / "pubmedqa.jsonl").is_file()
