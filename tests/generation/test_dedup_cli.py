"""``bioinstruct dedup``: formats in and out, seeds, tokenizers, and one-line errors."""

from __future__ import annotations

import json

import pytest
from rouge_score import rouge_scorer

from bioinstruct.cli import main

ROWS = [
    {"instruction": "List the side effects of metformin.", "input": "", "output": "Nausea."},
    {"instruction": "List the side effects of metformin therapy.", "input": "", "output": "Diarrhea."},
    {
        "instruction": "Explain how TNF-α and IL-6 drive β-cell apoptosis in T1DM",
        "input": "",
        "output": "...",
    },
    {
        "instruction": "Explain how TNF-β and IL-8 drive α-cell apoptosis in T2DM",
        "input": "",
        "output": "...",
    },
    {"instruction": "Describe heart failure.", "input": "", "output": "..."},
]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def run(capsys, *argv):
    code = main(["dedup", *map(str, argv), "--no-progress"])
    out, err = capsys.readouterr()
    return code, out, err


def test_jsonl_in_jsonl_out(tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    code, out, _ = run(capsys, src, tmp_path / "out.jsonl")
    assert code == 0
    kept = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [row["instruction"] for row in kept] == [
        ROWS[0]["instruction"],
        ROWS[2]["instruction"],
        ROWS[4]["instruction"],
    ]
    assert kept[0]["most_similar"] == {"id": None, "score": 0.0}
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    expected = scorer.score(ROWS[2]["instruction"], ROWS[0]["instruction"])["rougeL"].fmeasure
    assert kept[1]["most_similar"] == {"id": "0", "score": expected}
    assert out.startswith("dedup: kept 3, dropped 2 of 5 rows") and " s -> " in out


def test_alpaca_json_list_stays_a_list_and_biomedical_tokenizer(tmp_path, capsys):
    src = tmp_path / "alpaca_data.json"
    src.write_text(json.dumps(ROWS), encoding="utf-8")
    code, out, _ = run(capsys, src, tmp_path / "out.json", "--tokenizer", "biomedical")
    assert code == 0
    kept = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert isinstance(kept, list) and len(kept) == 4  # the TNF/IL pair is kept apart
    assert "dropped 1 of 5" in out and "tokenizer biomedical" in out


def test_seeds_field_and_threshold(tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", [{"prompt": r["instruction"]} for r in ROWS])
    seeds = write_jsonl(tmp_path / "seeds.jsonl", [{"id": "s1", "instruction": "Describe heart failure."}])
    code, out, _ = run(
        capsys, src, tmp_path / "out.jsonl", "--field", "prompt", "--seeds", seeds, "--threshold", "0.95"
    )
    assert code == 0
    kept = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [row["prompt"] for row in kept] == [r["instruction"] for r in ROWS[:4]]  # last = seed copy
    assert kept[0]["most_similar"]["id"] == "s1"


def test_progress_bar_goes_to_stderr(tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    assert main(["dedup", str(src), str(tmp_path / "out.jsonl")]) == 0
    out, err = capsys.readouterr()
    assert "dedup" in err and "5/5" in err and "row" in err
    assert out.count("\n") == 1


@pytest.mark.parametrize(
    ("content", "name", "extra", "message"),
    [
        (None, "missing.jsonl", [], r"missing\.jsonl: file not found"),
        ('{"instruction": "a"}\n\n{"instruction": "b",\n', "bad.jsonl", [], r"bad\.jsonl:3: invalid JSON"),
        ('[{"instruction": "a"},\n {"instruction": }]', "bad.json", [], r"bad\.json:2: invalid JSON"),
        ('{"instruction": "a"}\n{"text": "b"}\n', "nofield.jsonl", [], r"row 1: missing field 'instruction'"),
        ('{"instruction": "a"}\n', "ok.jsonl", ["--tokenizer", "bert"], None),
        (
            '{"instruction": "a"}\n',
            "ok.jsonl",
            ["--threshold", "1.5"],
            r"--threshold must be between 0 and 1",
        ),
    ],
)
def test_errors_are_one_line(tmp_path, capsys, content, name, extra, message):
    src = tmp_path / name
    if content is not None:
        src.write_text(content, encoding="utf-8")
    if message is None:  # argparse rejects an unknown choice itself
        with pytest.raises(SystemExit) as exc:
            main(["dedup", str(src), str(tmp_path / "out.jsonl"), *extra])
        assert exc.value.code == 2
        assert "invalid choice: 'bert'" in capsys.readouterr().err
        return
    code, _, err = run(capsys, src, tmp_path / "out.jsonl", *extra)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("bioinstruct: error: ")
    assert __import__("re").search(message, err), err
    assert not (tmp_path / "out.jsonl").exists()


def test_help_lists_every_flag(capsys):
    with pytest.raises(SystemExit):
        main(["dedup", "--help"])
    text = capsys.readouterr().out
    for flag in ("--threshold", "--field", "--tokenizer", "--seeds", "--no-progress", "IN", "OUT"):
        assert flag in text
