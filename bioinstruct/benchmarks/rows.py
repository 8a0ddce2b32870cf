"""Benchmark rows from files and from the Hub, in the Hub schema, with one-line errors.

Why readers by name: several sets are distributed as the authors' own files (BLUE ``test.tsv``
for ChemProt/DDI, the MTS-Dialog test CSV, BioASQ golden batches, PubMedQA's PMID lists), and
users should be able to pass them as downloaded; a declaration picks one with ``read_local:``.
JSON and JSONL go through :mod:`bioinstruct.jsonio`'s line reader (file:line errors).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from bioinstruct.benchmarks.declaration import HubSource
from bioinstruct.benchmarks.functions import register_reader
from bioinstruct.errors import DataError
from bioinstruct.jsonio import iter_jsonl


@register_reader("json")
def read_json_rows(path: Path) -> list[dict]:
    """Read JSONL, a JSON list of rows, or a JSON object of rows keyed by id (``_key`` keeps the key).

    A single JSON object whose values are not all objects is one row (a one-line JSONL file).
    """
    text = path.read_text(encoding="utf-8")
    stripped = text.lstrip()
    if not (stripped.startswith("[") or (stripped.startswith("{") and _is_single_json(stripped))):
        return list(iter_jsonl(path))  # JSONL: one object per line, "file:line: invalid JSON" errors
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(f"{path}:{err.lineno}: invalid JSON ({err.msg} at column {err.colno})") from err
    if isinstance(data, dict):
        # {id: row, ...} (e.g. PubMedQA's ori_pqal.json) -> rows keeping the id; else one row (1-line JSONL).
        is_keyed = bool(data) and all(isinstance(value, dict) for value in data.values())
        data = [{"_key": key, **value} for key, value in data.items()] if is_keyed else [data]
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        raise DataError(f"{str(path)!r} must hold JSON objects (one per line, a list, or a dict of them)")
    return data


def _is_single_json(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


def load_hub_rows(source: HubSource, benchmark: str, *, fewshot: bool = False) -> list[dict]:
    """``datasets.load_dataset`` with a one-line error that says what to do when it fails.

    ``fewshot``: the rows are a demonstration pool, so the hint names ``--fewshot-file``.
    """
    from bioinstruct.offline import ensure_offline_mode_if_unreachable

    ensure_offline_mode_if_unreachable()  # before datasets reads its offline switch: no minute of retries
    import datasets

    option, flag = ("fewshot_files", "--fewshot-file") if fewshot else ("data_files", "--data-file")

    try:
        dataset = datasets.load_dataset(source.path, source.name, split=source.split)
    except Exception as err:  # noqa: BLE001 - any Hub failure becomes one actionable line
        from bioinstruct.offline import offline_by_environment

        if offline_by_environment():
            why, advice = "it is not in the local Hugging Face cache and the Hub is offline", ""
        else:
            why = f"{type(err).__name__}: {str(err).splitlines()[0][:200] if str(err) else ''}"
            advice = "check the network or "
        raise DataError(
            f"benchmark {benchmark!r}: could not load {source.describe()} from the Hugging Face Hub ({why}); "
            f"{advice}pass a local copy with {option}={{'{benchmark}': path}} ({flag} {benchmark}=path)"
        ) from err
    return [dict(row) for row in dataset]


@register_reader("table")
def read_table(path: Path) -> list[dict]:
    """Rows of a ``.csv``/``.tsv`` file (header row required) or a JSON/JSONL file."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".tsv"):
        return read_json_rows(path)
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t" if suffix == ".tsv" else ","))
    if rows and None in rows[0]:
        raise DataError(f"{str(path)!r}: a row has more cells than the header; is the delimiter right?")
    return rows


@register_reader("blue_tsv")
def read_blue_tsv(path: Path) -> list[dict]:
    """BLUE/BLURB relation files: ``index, sentence, label`` with or without the header row."""
    if path.suffix.lower() != ".tsv":
        return read_json_rows(path)
    with path.open(encoding="utf-8", newline="") as handle:
        cells = [row for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE) if row]
    if cells and cells[0][:3] == ["index", "sentence", "label"]:
        cells = cells[1:]
    rows = []
    for number, row in enumerate(cells, start=1):
        if len(row) != 3:
            raise DataError(
                f"{str(path)!r} line {number}: expected 3 tab-separated columns (index, sentence, label), "
                f"got {len(row)}"
            )
        rows.append({"index": row[0], "sentence": row[1], "label": row[2]})
    return rows


PUBMEDQA_HUB = HubSource("qiaojin/PubMedQA", "pqa_labeled", split="train")


@register_reader("pubmedqa")
def read_pubmedqa(path: Path) -> list[dict]:
    """Rows from a pqa_labeled-schema file, an original-format dict (``test_set.json``), or the
    official ``test_ground_truth.json`` (PMID -> label), which selects those PMIDs from the Hub."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        raw = None
    if isinstance(raw, dict) and raw and all(isinstance(value, str) for value in raw.values()):
        wanted = set(raw)
        hub_rows = [row for row in load_hub_rows(PUBMEDQA_HUB, "pubmedqa") if str(row["pubid"]) in wanted]
        if len(hub_rows) != len(wanted):
            raise DataError(
                f"{str(path)!r}: {len(wanted) - len(hub_rows)} PMIDs are not in {PUBMEDQA_HUB.describe()}"
            )
        return hub_rows
    return read_json_rows(path)


BIOASQ_HOW_TO_GET = (
    "BioASQ Task B data needs a free registration: download the golden test batches "
    "(e.g. 11B1_golden.json) from https://participants-area.bioasq.org/datasets/ and pass a file or a folder "
    "of them with --data-file bioasq=PATH (data_files={'bioasq': PATH})"
)


@register_reader("bioasq")
def read_bioasq(path: Path) -> list[dict]:
    """Yes/no questions from BioASQ JSON files (``{"questions": [...]}``), a folder of them, or JSONL."""
    files = sorted(path.glob("*.json*")) if path.is_dir() else [path]
    if not files:
        raise DataError(f"no BioASQ JSON files in folder {str(path)!r}. {BIOASQ_HOW_TO_GET}")
    questions: dict[str, dict] = {}
    for file in files:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
            rows = data["questions"] if isinstance(data, dict) and "questions" in data else data
        except json.JSONDecodeError:
            rows = read_json_rows(file)
        if not isinstance(rows, list):
            raise DataError(
                f"{str(file)!r} is not a BioASQ file: expected {{'questions': [...]}} or JSONL rows"
            )
        for row in rows:
            if isinstance(row, dict) and row.get("type") == "yesno":
                questions.setdefault(str(row.get("id")), row)
    if not questions:
        raise DataError(f"no yes/no questions (type 'yesno') in {str(path)!r}. {BIOASQ_HOW_TO_GET}")
    return list(questions.values())
