"""``bioinstruct dedup``: formats in and out, seeds, tokenizers, and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

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
    assert kept == [ROWS[0], ROWS[2], ROWS[4]]  # the user's rows, unchanged: no field added
    assert out.startswith("dedup: kept 3, dropped 2 of 5 rows") and " s -> " in out
    assert "list them with --dropped FILE" in out


def test_dropped_rows_are_listed_with_what_they_matched(tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    code, out, _ = run(capsys, src, tmp_path / "out.jsonl", "--dropped", tmp_path / "dropped.jsonl")
    assert code == 0 and out.rstrip().endswith(f"dropped rows -> {tmp_path / 'dropped.jsonl'}")
    dropped = [json.loads(line) for line in (tmp_path / "dropped.jsonl").read_text().splitlines()]
    assert [entry["position"] for entry in dropped] == [1, 3]
    assert dropped[0]["row"] == ROWS[1]
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    expected = scorer.score(ROWS[0]["instruction"], ROWS[1]["instruction"])["rougeL"].fmeasure
    assert dropped[0]["most_similar"] == {"id": "0", "score": expected, "text": ROWS[0]["instruction"]}


def test_threshold_is_inclusive_as_the_help_says(tmp_path, capsys):
    """A pair scoring exactly the threshold is dropped (>=), and --help says "at or above"."""
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    score = scorer.score(ROWS[0]["instruction"], ROWS[1]["instruction"])["rougeL"].fmeasure
    src = write_jsonl(tmp_path / "in.jsonl", ROWS[:2])
    code, out, _ = run(capsys, src, tmp_path / "out.jsonl", "--threshold", repr(score))
    assert code == 0 and "dropped 1 of 2" in out
    with pytest.raises(SystemExit):
        main(["dedup", "--help"])
    assert "at or above" in " ".join(capsys.readouterr().out.split())


def test_output_never_overwrites_the_input(tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    before = src.read_text()
    code, _, err = run(capsys, src, src)
    assert code == 2 and "is IN itself" in err and err.count("\n") == 1
    assert src.read_text() == before


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
    assert kept == [{"prompt": r["instruction"]} for r in ROWS[:4]]


@pytest.mark.parametrize("delay", [None, "0"])
def test_progress_bar_goes_to_stderr_and_only_for_steps_over_a_second(tmp_path, delay):
    """Quiet by default (bioinstruct.quiet): a sub-second dedup draws no bar; with the bar's delay
    at 0 (TQDM_DELAY=0, the user's choice wins) it goes to stderr, stdout keeps the summary line."""
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    env = {key: value for key, value in os.environ.items() if key != "TQDM_DELAY"}
    if delay is not None:
        env["TQDM_DELAY"] = delay
    command = [sys.executable, "-m", "bioinstruct.cli", "dedup", str(src), str(tmp_path / "out.jsonl")]
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    assert result.stdout.count("\n") == 1 and result.stdout.startswith("dedup: kept 3")
    if delay is None:
        assert result.stderr == ""
    else:
        assert "dedup" in result.stderr and "5/5" in result.stderr and "row" in result.stderr


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
    code, _, err = run(capsys, src, tmp_path / "out.jsonl", *extra)
    assert code == 2
    if message is None:  # argparse's own check, as one line
        assert err == (
            "bioinstruct dedup: error: --tokenizer: 'bert' is not one of biomedical, rouge "
            "(see `bioinstruct dedup --help`)\n"
        )
        return
    assert err.count("\n") == 1 and err.startswith("bioinstruct: error: ")
    assert __import__("re").search(message, err), err
    assert not (tmp_path / "out.jsonl").exists()


def test_help_lists_every_flag(capsys):
    with pytest.raises(SystemExit):
        main(["dedup", "--help"])
    text = capsys.readouterr().out
    for flag in (
        "--threshold",
        "--field",
        "--tokenizer",
        "--seeds",
        "--dropped",
        "--no-progress",
        "IN",
        "OUT",
    ):
        assert flag in text
