"""Results files: results.json, samples, the markdown table with protocols, and the chart."""

from __future__ import annotations

import json
from pathlib import Path

from bioinstruct.evaluation.report import BenchmarkResult, EvalResults


def _result(
    benchmark: str, adapter: str | None, accuracy: float, unparseable: int | None = None
) -> BenchmarkResult:
    samples = [
        {
            "id": str(i),
            "prompt": f"p{i}",
            "prediction": "A",
            "reference": "A" if i < 3 else "B",
            "correct": i < 3,
        }
        for i in range(4)
    ]
    protocol = {
        "protocol": "generative" if unparseable is not None else "loglikelihood",
        "num_fewshot": 0,
        "template": "bioinstruct",
        "data_source": "GBaker/MedQA-USMLE-4-options [test]",
        "items": "all",
        "limit": 4,
    }
    return BenchmarkResult(
        benchmark,
        "org/base-7b",
        adapter,
        {"accuracy": accuracy},
        4,
        "accuracy",
        unparseable,
        (accuracy - 0.1, min(1.0, accuracy + 0.1)),
        protocol,
        samples,
    )


def test_markdown_table_has_variants_as_columns_and_protocols() -> None:
    results = EvalResults(
        [
            _result("medqa", None, 0.5),
            _result("medqa", "lora", 0.75, unparseable=1),
            _result("pubmedqa", None, 0.25),
        ],
        skipped={"bioasq": "needs local data"},
    )
    text = results.to_markdown()
    lines = text.splitlines()
    assert lines[0] == "| benchmark | metric | base-7b | base-7b + lora |"
    assert lines[2] == "| medqa | accuracy | 50.0 [40.0, 60.0] | 75.0 [65.0, 85.0] |"
    assert lines[3] == "| pubmedqa | accuracy | 25.0 [15.0, 35.0] | – |"
    assert "- **medqa**: loglikelihood; 0-shot; template 'bioinstruct'; n=4" in text
    assert "base-7b + lora: 1 of 4 answers unparseable (counted wrong)" in text
    assert "- **bioasq**: skipped (needs local data)" in text


def test_save_writes_every_file_and_loads_back(tmp_path: Path) -> None:
    results = EvalResults([_result("medqa", None, 0.5), _result("medqa", "lora", 0.75, unparseable=1)])
    out = results.save(tmp_path / "eval")
    data = json.loads((out / "results.json").read_text())
    assert [(r["benchmark"], r["adapter"], r["metrics"]["accuracy"]) for r in data["results"]] == [
        ("medqa", None, 0.5),
        ("medqa", "lora", 0.75),
    ]
    assert data["results"][1]["protocol"]["protocol"] == "generative" and data["results"][1]["ci"] == [
        0.65,
        0.85,
    ]
    samples = [json.loads(line) for line in (out / "samples" / "medqa.jsonl").read_text().splitlines()]
    assert len(samples) == 8 and {"prompt", "prediction", "reference", "correct", "adapter"} <= set(
        samples[0]
    )
    assert (out / "results.md").read_text() == results.to_markdown()
    png = (out / "results.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    loaded = EvalResults.load(out)
    assert loaded.to_dict() == results.to_dict()
    assert loaded.get("medqa", adapter="lora").samples == results.get("medqa", adapter="lora").samples


def test_single_variant_has_no_chart_and_runs_combine(tmp_path: Path) -> None:
    one = EvalResults([_result("medqa", None, 0.5)])
    assert not (one.save(tmp_path / "one") / "results.png").exists()
    other = EvalResults([BenchmarkResult("medqa", "org/other", None, {"accuracy": 0.6}, 4)])
    both = one + other
    assert both.variants == ["base-7b", "other"]
    assert (both.save(tmp_path / "both") / "results.png").is_file()


def test_a_damaged_samples_file_names_its_file_and_line(tmp_path: Path) -> None:
    import pytest

    from bioinstruct.errors import DataError

    out = EvalResults([_result("medqa", None, 0.5)]).save(tmp_path / "eval")
    assert sorted(p.name for p in out.iterdir()) == ["results.json", "results.md", "samples"]  # no temp files
    samples = out / "samples" / "medqa.jsonl"
    lines = samples.read_text(encoding="utf-8").splitlines(keepends=True)
    samples.write_text(
        "".join([lines[0], "\n", '{"model": "org/base-7b", "adap\n', *lines[1:]]), encoding="utf-8"
    )
    with pytest.raises(DataError, match=r"medqa\.jsonl:3: invalid JSON"):
        EvalResults.load(out)


def test_load_reads_what_it_knows_and_names_what_is_missing(tmp_path: Path, caplog) -> None:
    """A results.json from a newer version (an unknown field) loads with one warning; a result that
    lacks a field, or a file that is not a results file, is one DataError naming the file."""
    import pytest

    from bioinstruct.errors import DataError

    result = BenchmarkResult("medqa", "m", None, {"accuracy": 0.5}, n=2)
    result.samples = [{"id": "q1", "prediction": "A", "score": 1.0}]  # a row without model/adapter fields
    EvalResults([result]).save(tmp_path)
    path = tmp_path / "results.json"
    data = json.loads(path.read_text())
    data["results"][0]["added_by_a_newer_version"] = 1
    path.write_text(json.dumps(data))
    loaded = EvalResults.load(tmp_path)
    assert loaded.get("medqa").score == 0.5
    assert "ignored result fields this version does not know: added_by_a_newer_version" in caplog.text
    del data["results"][0]["n"]
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match=r"results.json: result 1 lacks n"):
        EvalResults.load(tmp_path)
    path.write_text("[]")
    with pytest.raises(DataError, match="expected an object with a 'results' list"):
        EvalResults.load(tmp_path)
