"""The ``instructions`` benchmark: held-out rows of the user's own data, ROUGE-L against the output."""

from __future__ import annotations

import json

import pytest

from bioinstruct.benchmarks import get_benchmark, list_groups
from bioinstruct.errors import DataError


def test_rows_become_items_with_the_output_as_reference(tmp_path):
    path = tmp_path / "heldout.jsonl"
    rows = [
        {"instruction": "Name the drug class of metformin.", "input": "", "output": "Biguanide."},
        {"id": "r7", "instruction": "Extract the dose.", "input": "Take 5 mg daily.", "output": "5 mg"},
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    bench = get_benchmark("instructions")
    items = bench.items(bench.load_rows(path))
    assert [item.id for item in items] == ["0", "r7"]
    assert items[1].instruction == "Extract the dose." and items[1].input == "Take 5 mg daily."
    assert items[1].reference == "5 mg" and items[1].question == "Extract the dose.\n\nTake 5 mg daily."
    metrics = bench.corpus_metrics(["Biguanide.", "10 mg"], [item.reference for item in items], rows)
    assert metrics["rougeL"] == pytest.approx((1.0 + 0.5) / 2)
    assert bench.item_score("5 mg", "5 mg", rows[1]) == 1.0


def test_an_alpaca_json_list_loads_and_a_row_without_output_is_named(tmp_path):
    path = tmp_path / "alpaca.json"
    path.write_text(json.dumps([{"instruction": "Define anemia.", "input": "", "output": ""}]))
    bench = get_benchmark("instructions")
    with pytest.raises(DataError, match="row 0 .*instruction.*output"):
        bench.items(bench.load_rows(path), source=str(path))


def test_it_needs_a_data_file_and_sits_in_its_own_group():
    bench = get_benchmark("instructions")
    assert bench.needs_local_data and "--data-file instructions=" in bench.how_to_get
    assert list_groups()["custom"] == ["instructions"]
    assert "instructions" not in list_groups()["paper"]
