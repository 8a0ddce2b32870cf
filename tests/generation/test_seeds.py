"""The bundled seeds meet the self-instruct filters, and bad seed files fail with the line named."""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from rouge_score import rouge_scorer

from bioinstruct.errors import DataError
from bioinstruct.generation.seeds import CATEGORIES, load_seed_tasks, seed_set_hash

# The words the self-instruct filter rejects in instructions (tasks a text model cannot do).
BLACKLIST = (
    "image",
    "images",
    "picture",
    "pictures",
    "graph",
    "graphs",
    "file",
    "files",
    "map",
    "maps",
    "draw",
    "plot",
    "video",
    "audio",
    "go to",
)
TARGET_COUNTS = {"IE": 27, "GEN": 27, "QA": 18, "OTHER": 8}


@pytest.fixture(scope="module")
def seeds() -> list[dict]:
    return load_seed_tasks()


def _good(i: int, **over) -> dict:
    row = {
        "id": f"t{i}",
        "instruction": f"Summarize note number {i} for a patient.",
        "input": "Some note.",
        "output": "A summary.",
        "category": "GEN",
    }
    row.update(over)
    return row


def _write(tmp_path: Path, rows: list, name: str = "seeds.jsonl") -> Path:
    path = tmp_path / name
    lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- the bundled seeds -------------------------------------------------------------------


def test_bundled_file_has_80_well_formed_tasks(seeds: list[dict]) -> None:
    assert len(seeds) == 80
    assert [s["id"] for s in seeds] == [f"seed_{i:03d}" for i in range(1, 81)]
    assert all(set(s) == {"id", "instruction", "input", "output", "category"} for s in seeds)


def test_bundled_file_raw_lines_have_exactly_the_five_keys() -> None:
    from importlib import resources

    text = (resources.files("bioinstruct.generation") / "seed_tasks.jsonl").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert len(lines) == 80
    for line in lines:
        assert list(json.loads(line)) == ["id", "instruction", "input", "output", "category"]


def test_category_mix_is_close_to_the_paper(seeds: list[dict]) -> None:
    counts = Counter(s["category"] for s in seeds)
    assert set(counts) == set(CATEGORIES)
    for category, target in TARGET_COUNTS.items():
        assert abs(counts[category] - target) <= 2, (category, counts[category])


def test_instructions_are_pairwise_dissimilar_under_rouge_l(seeds: list[dict]) -> None:
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    worst = max(
        (scorer.score(a["instruction"], b["instruction"])["rougeL"].fmeasure, a["id"], b["id"])
        for a, b in itertools.combinations(seeds, 2)
    )
    assert worst[0] < 0.7, worst


def test_instruction_lengths_and_blacklist(seeds: list[dict]) -> None:
    for s in seeds:
        assert 3 <= len(s["instruction"].split()) <= 150, s["id"]
        lowered = s["instruction"].lower()
        hits = [w for w in BLACKLIST if re.search(rf"\b{re.escape(w)}\b", lowered)]
        assert not hits, (s["id"], hits)


def test_outputs_are_non_empty_and_differ_from_inputs(seeds: list[dict]) -> None:
    for s in seeds:
        assert s["output"].strip(), s["id"]
        assert s["output"].strip() != s["input"].strip(), s["id"]
    with_input = sum(1 for s in seeds if s["input"].strip())
    assert with_input >= 60  # most seeds carry a realistic input


def test_seed_set_hash_is_stable_and_sensitive(seeds: list[dict]) -> None:
    digest = seed_set_hash(seeds)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert seed_set_hash(load_seed_tasks()) == digest
    edited = [dict(s) for s in seeds]
    edited[5]["output"] += " "
    assert seed_set_hash(edited) != digest
    assert seed_set_hash(list(reversed(seeds))) != digest


# --- user seed files ----------------------------------------------------------------------


def test_user_file_may_omit_category_and_input(tmp_path: Path) -> None:
    rows = [
        _good(1),
        {"id": "t2", "instruction": "List three causes of anemia.", "output": "Iron, B12, loss."},
    ]
    tasks = load_seed_tasks(_write(tmp_path, rows + [""]))
    assert tasks[1] == {
        "id": "t2",
        "instruction": "List three causes of anemia.",
        "input": "",
        "output": "Iron, B12, loss.",
        "category": None,
    }
    assert load_seed_tasks(str(_write(tmp_path, rows))) == tasks
    with pytest.raises(DataError, match=r"line 2: missing required field 'category'"):
        load_seed_tasks(_write(tmp_path, rows), require_category=True)


def test_list_of_dicts_is_validated_with_item_numbers() -> None:
    assert len(load_seed_tasks([_good(1), _good(2)])) == 2
    with pytest.raises(DataError, match=r"item 2: field 'output' is empty"):
        load_seed_tasks([_good(1), _good(2, output="  ")])


@pytest.mark.parametrize(
    ("rows", "pattern"),
    [
        ([_good(1), "{not json"], r"line 2: invalid JSON"),
        ([_good(1), "[1, 2]"], r"line 2: expected a JSON object"),
        (
            [_good(1), _good(2), {"instruction": "Name a vitamin.", "output": "C"}],
            r"line 3: missing required field 'id'",
        ),
        (
            [{k: v for k, v in _good(1).items() if k != "instruction"}],
            r"line 1: missing required field 'instruction'",
        ),
        ([_good(1), _good(2, output="")], r"line 2: field 'output' is empty"),
        ([_good(1, id=7)], r"line 1: field 'id' must be a string, got int"),
        ([_good(1), _good(2, input=["x"])], r"line 2: field 'input' must be a string"),
        (
            [_good(1), _good(2, category="NER")],
            r"line 2: unknown category 'NER'; expected one of QA, IE, GEN, OTHER",
        ),
        ([_good(1), _good(2), _good(3, id="t1")], r"duplicate id 't1' on lines 1 and 3"),
        (
            [_good(1), _good(2), _good(3, instruction="  SUMMARIZE note number 1   for a patient. ")],
            r"duplicate instruction on lines 1 and 3",
        ),
    ],
)
def test_bad_seed_files_name_the_line(tmp_path: Path, rows: list, pattern: str) -> None:
    path = _write(tmp_path, rows)
    with pytest.raises(DataError, match=pattern) as info:
        load_seed_tasks(path)
    assert str(path) in str(info.value)


def test_line_numbers_count_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "gaps.jsonl"
    path.write_text(
        json.dumps(_good(1)) + "\n\n\n" + json.dumps(_good(2, category="Bad")) + "\n", encoding="utf-8"
    )
    with pytest.raises(DataError, match=r"line 4: unknown category"):
        load_seed_tasks(path)


def test_unreadable_sources(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"missing\.jsonl: seed file not found"):
        load_seed_tasks(tmp_path / "missing.jsonl")
    with pytest.raises(DataError, match=r"is not a file"):
        load_seed_tasks(tmp_path)
    bad = tmp_path / "latin1.jsonl"
    bad.write_bytes(b'{"id": "caf\xe9"}\n')
    with pytest.raises(DataError, match=r"latin1\.jsonl: is not valid UTF-8"):
        load_seed_tasks(bad)
    empty = _write(tmp_path, ["", "  "], name="empty.jsonl")
    with pytest.raises(DataError, match=r"empty\.jsonl: contains no seed tasks"):
        load_seed_tasks(empty)
    with pytest.raises(DataError, match=r"got dict"):
        load_seed_tasks({"id": "x"})  # type: ignore[arg-type]


def test_data_card_matches_the_bundled_seeds(seeds: list[dict]) -> None:
    from bioinstruct.resources import data_path

    card = data_path("data_cards", "seed_tasks.md").read_text(encoding="utf-8")
    assert seed_set_hash(seeds) in card, "seed file changed: update the hash in data_cards/seed_tasks.md"
    counts = Counter(s["category"] for s in seeds)
    assert all(f"{c} {n} (" in card for c, n in counts.items())
    coverage = card.split("## Task-type coverage", 1)[1].split("\n## ", 1)[0]
    by_id = {s["id"]: s["category"] for s in seeds}
    listed: list[str] = []
    for row in coverage.splitlines():
        cells = [c.strip() for c in row.strip("|").split("|")]
        if len(cells) == 3 and cells[1] in CATEGORIES:
            ids = re.findall(r"seed_\d{3}", cells[2])
            assert all(by_id[i] == cells[1] for i in ids), row
            listed += ids
    assert sorted(listed) == sorted(by_id)  # every seed appears in the coverage table exactly once


def test_a_line_separator_inside_a_json_string_does_not_split_the_line(tmp_path: Path) -> None:
    """str.splitlines() broke a seed whose text held U+2028 or U+0085, which JSON keeps raw."""
    path = tmp_path / "seeds.jsonl"
    rows = [_good(1, output="First part.\u2028Second part."), _good(2, input="a\x85b")]
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\r\n" for row in rows), encoding="utf-8")
    tasks = load_seed_tasks(path)
    assert [task["output"] for task in tasks] == ["First part.\u2028Second part.", "A summary."]
    assert tasks[1]["input"] == "a\x85b"
    path.write_text(path.read_text(encoding="utf-8") + '{"id": "t3",\n', encoding="utf-8")
    with pytest.raises(
        DataError, match=r"seeds\.jsonl, line 3: invalid JSON .*; expected one JSON object per line"
    ):
        load_seed_tasks(path)
