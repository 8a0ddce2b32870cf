"""End to end: a tiny local Llama through the Evaluator on a few rows of every IE and generation set,
one-shot, with the LLM judge on a local OpenAI-protocol server, saved as results files."""

from __future__ import annotations

import json

import pytest

from bioinstruct.benchmarks import get_benchmark
from bioinstruct.evaluation.evaluator import Evaluator
from bioinstruct.evaluation.judge import Judge
from bioinstruct.testing.openai_server import Reply

SAMPLE_FILES = {
    name: f"{name}.jsonl"
    for name in (
        "bc5cdr_chem",
        "bc5cdr_disease",
        "ncbi_disease",
        "chemprot",
        "ddi",
        "mts_dialog",
        "meqsum",
        "mediqa_qs",
        "medicationqa",
        "liveqa",
    )
}
LIMIT = 2


def _local_fixtures(tmp_path):
    """Hand-made rows (no patient data) for the sets that are only distributed as gated files."""
    notes = [
        (
            "Continue metformin. Lisinopril was stopped.",
            [("metformin", "active"), ("Lisinopril", "discontinued")],
        ),
        ("No medicines.", []),
        ("Consider aspirin later.", [("aspirin", "neither")]),
    ]
    coref = [
        ("The patient had a rash. It resolved.", "It", ["a rash"]),
        ("Dr. Lee saw her. She advised rest.", "She", ["Dr. Lee"]),
        ("A cyst was found; the lesion is benign.", "the lesion", ["A cyst"]),
    ]
    icliniq = [
        {
            "input": "I have had a dry cough for two weeks.",
            "answer_icliniq": "Get a chest X-ray if it persists.",
        },
        {"input": "My knee hurts when I run.", "answer_icliniq": "Rest, ice and see a physiotherapist."},
        {"input": "Can I take ibuprofen with coffee?", "answer_icliniq": "Yes, with food."},
    ]
    files = {
        "medication_status": [
            {"id": f"m{i}", "text": text, "medications": [{"name": n, "status": s} for n, s in meds]}
            for i, (text, meds) in enumerate(notes)
        ],
        "coreference": [
            {"id": f"c{i}", "text": text, "anaphor": anaphor, "antecedents": ante}
            for i, (text, anaphor, ante) in enumerate(coref)
        ],
        "icliniq": icliniq,
    }
    paths = {}
    for name, rows in files.items():
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
        paths[name] = str(path)
    return paths


GOOD_JUDGE = '{"coherence": 4, "completeness": 3, "naturalness": 5}'


def _run_and_check(names, tiny_model_dir, fixtures_dir, tmp_path, openai_server):
    judge_server = openai_server(lambda request: Reply(GOOD_JUDGE))
    data_files = {name: str(fixtures_dir / file) for name, file in SAMPLE_FILES.items()}
    data_files.update(_local_fixtures(tmp_path))
    data_files = {name: path for name, path in data_files.items() if name in names}
    evaluator = Evaluator(str(tiny_model_dir), backend="hf", cache_dir=tmp_path / "cache", progress=False)
    judge = Judge("gpt-4", base_url=judge_server.base_url, api_key="local", cache_dir=tmp_path / "judge")
    results = evaluator.run(
        list(names), limit=LIMIT, data_files=data_files, fewshot_files=data_files, num_fewshot=1, judge=judge
    )
    assert sorted(results.benchmarks) == sorted(data_files)
    assert not results.skipped
    judged = 0
    for name in data_files:
        bench = get_benchmark(name)
        result = results.get(name)
        assert result.n == LIMIT
        # One demonstration, drawn from the supplied file but never one of the scored items.
        assert result.protocol["num_fewshot"] == 1
        scored_ids = {sample["id"] for sample in result.samples}
        assert not scored_ids & set(result.protocol["demo_ids"])
        # The stored metrics are exactly what the declaration computes from the stored predictions.
        predictions = [sample["prediction"] for sample in result.samples]
        references = [sample["reference"] for sample in result.samples]
        rows = bench.load_rows(data_files[name])[:LIMIT]
        expected = bench.corpus_metrics(predictions, references, rows)
        for key, value in expected.items():
            assert result.metrics[key] == pytest.approx(value)
        assert 0.0 <= result.metrics[bench.primary_metric] <= 1.0
        assert result.ci is not None and result.ci[0] <= result.ci[1]
        if "gen" in bench.groups:
            judged += LIMIT
            assert result.metrics["judge_coherence"] == 4.0 and result.metrics["judge_naturalness"] == 5.0
            assert all(s["judge"] == json.loads(GOOD_JUDGE) for s in result.samples)
            assert result.protocol["judge"]["judge_model"] == "gpt-4"
        else:
            assert "judge_coherence" not in result.metrics
    # One judge call per generated item of the generation sets, all on the local server.
    assert len(judge_server.requests) == judged
    out = results.save(tmp_path / "eval")
    saved = json.dumps(json.loads((out / "results.json").read_text(encoding="utf-8")))
    for name in data_files:
        assert name in saved
        assert len((out / "samples" / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()) == LIMIT
    return results


def test_tiny_model_on_relation_coreference_and_summarisation(
    tiny_model_dir, fixtures_dir, tmp_path, openai_server
):
    """Fast path: one set of each kind (relation, local clinical IE, judged generation)."""
    results = _run_and_check(
        ["ddi", "coreference", "meqsum"], tiny_model_dir, fixtures_dir, tmp_path, openai_server
    )
    assert "judge_completeness" in results.get("meqsum").metrics


@pytest.mark.slow
def test_tiny_model_on_every_ie_and_gen_benchmark(tiny_model_dir, fixtures_dir, tmp_path, openai_server):
    names = [*SAMPLE_FILES, "medication_status", "coreference", "icliniq"]
    _run_and_check(names, tiny_model_dir, fixtures_dir, tmp_path, openai_server)
