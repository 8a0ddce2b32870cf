"""What the IE and generation declarations share: their prompt texts and a file reader.

Why a reader of CSV/TSV as well as JSON: several of these sets are distributed as the
authors' own files (BLUE ``test.tsv`` for ChemProt/DDI, the MTS-Dialog test CSV), and users
should be able to pass them as downloaded instead of converting them first.
"""

from __future__ import annotations

import csv
import functools
import json
from importlib import resources
from pathlib import Path
from typing import Any

from bioinstruct.errors import DataError
from bioinstruct.evaluation.registry import read_json_rows


@functools.cache
def prompts() -> dict[str, Any]:
    """The instructions and label sets in ``ie_gen_prompts.json`` (package data)."""
    text = resources.files(__package__).joinpath("ie_gen_prompts.json").read_text(encoding="utf-8")
    return json.loads(text)


def read_rows(path: Path) -> list[dict]:
    """Rows of a ``.csv``/``.tsv`` file (header row required) or a JSON/JSONL file."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".tsv"):
        return read_json_rows(path)
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t" if suffix == ".tsv" else ","))
    if rows and None in rows[0]:
        raise DataError(f"{str(path)!r}: a row has more cells than the header; is the delimiter right?")
    return rows


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
