"""The benchmark registry: lookup, "did you mean", groups, file reading, and a new declaration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bioinstruct.benchmarks import (
    Benchmark,
    HubSource,
    Item,
    get_benchmark,
    list_benchmarks,
    list_groups,
    register_benchmark,
    resolve_benchmarks,
)
from bioinstruct.benchmarks.rows import read_json_rows
from bioinstruct.errors import ConfigError, DataError


def test_builtin_qa_benchmarks_and_groups() -> None:
    names = [b.name for b in list_benchmarks()]
    for name in ("medqa", "medmcqa", "pubmedqa", "bioasq", "mednli"):
        assert name in names
    groups = list_groups()
    assert groups["qa"] == ["medqa", "medmcqa", "pubmedqa", "bioasq"]
    assert {"medqa", "medmcqa", "pubmedqa", "bioasq", "mednli"} <= set(groups["paper"])
    assert get_benchmark("medmcqa").hub == HubSource("openlifescienceai/medmcqa", split="validation")
    assert get_benchmark("pubmedqa").hub == HubSource("qiaojin/PubMedQA", "pqa_labeled", "train")
    assert get_benchmark("bioasq").needs_local_data and get_benchmark("mednli").needs_local_data
    assert not get_benchmark("medqa").needs_local_data


@pytest.mark.parametrize(
    ("typo", "suggestion"), [("medq", "medqa"), ("pubmed_qa", "pubmedqa"), ("MedNLI", "mednli")]
)
def test_unknown_benchmark_suggests(typo: str, suggestion: str) -> None:
    with pytest.raises(ConfigError, match=f"did you mean '{suggestion}'"):
        get_benchmark(typo)


def test_unknown_without_close_match_lists_known() -> None:
    with pytest.raises(ConfigError, match="unknown benchmark 'zzz'; known: .*medqa"):
        get_benchmark("zzz")


def test_resolve_names_and_groups_in_order_without_repeats() -> None:
    names = [b.name for b in resolve_benchmarks("pubmedqa,qa")]
    assert names == ["pubmedqa", "medqa", "medmcqa", "bioasq"]
    with pytest.raises(ConfigError, match="no benchmark given"):
        resolve_benchmarks(" , ")


def test_read_json_rows_formats(tmp_path: Path) -> None:
    jsonl = tmp_path / "one.jsonl"
    jsonl.write_text('{"index": "1", "sentence": "s", "label": "x"}\n')
    assert read_json_rows(jsonl) == [
        {"index": "1", "sentence": "s", "label": "x"}
    ]  # one row, not a dict of rows
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps([{"a": 1}, {"a": 2}]))
    assert read_json_rows(listed) == [{"a": 1}, {"a": 2}]
    keyed = tmp_path / "keyed.json"
    keyed.write_text(json.dumps({"123": {"QUESTION": "q"}, "456": {"QUESTION": "r"}}))
    assert read_json_rows(keyed) == [{"_key": "123", "QUESTION": "q"}, {"_key": "456", "QUESTION": "r"}]
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"a": 1}\n{"a": \n')
    with pytest.raises(DataError, match=r"broken.jsonl:2: invalid JSON"):
        read_json_rows(broken)


def test_jsonl_error_names_the_bad_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"a": 1}\n{"a": 2}\n\n{"a": \n')
    with pytest.raises(DataError, match=r"broken.jsonl:4: invalid JSON"):
        read_json_rows(broken)


@pytest.mark.parametrize("kind", ["folder", "binary"])
def test_unreadable_data_file_is_a_data_error(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "data"
    if kind == "folder":
        path.mkdir()
    else:
        path.write_bytes(b"\xff\xfe\x00\x81 not text")
    with pytest.raises(DataError, match="cannot read data file"):
        get_benchmark("medqa").load_rows(path)


def test_fewshot_pool_from_the_hub_failing_names_fewshot_file(monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    def offline(*args: object, **kwargs: object) -> None:
        raise ConnectionError("offline")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(DataError, match="--fewshot-file medqa=path"):
        get_benchmark("medqa").load_fewshot_rows()
    with pytest.raises(DataError, match="--data-file medqa=path"):
        get_benchmark("medqa").load_rows()


def test_items_scored_from_a_supplied_file_are_described_as_such() -> None:
    medqa, pubmedqa, bioasq = (get_benchmark(n) for n in ("medqa", "pubmedqa", "bioasq"))
    assert medqa.describe_items(None, 1273) == medqa.items_note
    assert medqa.describe_items("medqa.jsonl", 133) == "every row of the supplied file (133 rows)"
    assert pubmedqa.describe_items("test_ground_truth.json", 500).startswith(
        "the 500 items of the supplied file"
    )
    assert bioasq.describe_items("batches/", 618) == bioasq.items_note


def test_declaring_a_new_benchmark_takes_a_few_lines(tmp_path: Path) -> None:
    """A generation benchmark with a corpus metric and a per-item score, from a local file."""

    def to_item(row: dict, index: int) -> Item:
        return Item(id=str(index), instruction="Name the organ.", input=row["text"], reference=row["organ"])

    def exact(predictions: list[str], references: list, rows: list[dict]) -> dict[str, float]:
        return {
            "exact": sum(p.strip() == r for p, r in zip(predictions, references, strict=True))
            / len(references)
        }

    @register_benchmark
    def organs() -> Benchmark:
        return Benchmark(
            name="e1_test_organs",
            groups=("e1_test",),
            task="generation",
            to_item=to_item,
            corpus_metrics=exact,
            item_score=lambda p, r, row: float(p.strip() == r),
            primary_metric="exact",
            how_to_get="write it yourself",
            max_new_tokens=4,
        )

    bench = get_benchmark("e1_test_organs")
    assert bench.needs_local_data and bench.metric_names == "exact"
    assert list_groups()["e1_test"] == ["e1_test_organs"]
    data = tmp_path / "organs.jsonl"
    data.write_text('{"text": "insulin is made here", "organ": "pancreas"}\n')
    items = bench.items(bench.load_rows(data))
    assert items[0].reference == "pancreas" and items[0].answer_text == "pancreas"
    with pytest.raises(DataError, match="needs local data: write it yourself"):
        bench.load_rows()
    with pytest.raises(DataError, match="not found. write it yourself"):
        bench.load_rows(tmp_path / "missing.jsonl")
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text('{"body": "x"}\n')
    with pytest.raises(DataError, match=r"row 0 .* does not match the expected schema \(KeyError: 'text'\)"):
        bench.items(bench.load_rows(wrong), source=str(wrong))


def test_declaration_is_validated() -> None:
    with pytest.raises(ConfigError, match="needs a metric"):
        Benchmark(
            name="x", groups=("g",), task="generation", to_item=lambda row, i: Item(id="0", instruction="")
        )
    with pytest.raises(ConfigError, match="task must be"):
        Benchmark(
            name="x", groups=("g",), task="ranking", to_item=lambda row, i: Item(id="0", instruction="")
        )  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="clashes with a group name"):
        register_benchmark(
            Benchmark(
                name="qa",
                groups=("x",),
                task="multiple_choice",
                to_item=lambda row, i: Item(id="0", instruction=""),
            )
        )
