"""Near-duplicate filtering of any instruction file (``bioinstruct dedup``): exact ROUGE-L, in order.

Why apart from the index: the index answers "how close is this text to the pool"; this is the
policy on top of it (seeds first, keep a row only when it is below the threshold to every row
kept before it, say what each dropped row collided with), shared by the CLI and the benchmark.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tqdm.auto import tqdm

from bioinstruct.errors import DataError
from bioinstruct.similarity.rouge import SimilarityIndex
from bioinstruct.similarity.tokenization import Tokenizer


@dataclass
class NearDuplicateResult:
    """Outcome of :func:`filter_near_duplicates`.

    ``kept``: the kept rows (copies) in input order, each with ``most_similar = {"id", "score"}``
    (its exact maximum over the seeds and the rows kept before it). ``dropped``: one dict per
    dropped row: ``position`` (in the input), ``row`` and ``most_similar = {"id", "score", "text"}``
    (the pooled text it collided with).
    """

    kept: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)
    threshold: float = 0.7
    pairs_scored: int = 0


def _text_of(row: Any, field_name: str, where: str, allow_str: bool = False) -> str:
    if allow_str and isinstance(row, str):
        return row
    if not isinstance(row, Mapping):
        raise DataError(f"{where}: expected an object with a {field_name!r} field, got {type(row).__name__}")
    if field_name not in row:
        raise DataError(f"{where}: missing field {field_name!r} (fields present: {sorted(row)})")
    value = row[field_name]
    if not isinstance(value, str):
        raise DataError(f"{where}: field {field_name!r} must be a string, got {type(value).__name__}")
    return value


def filter_near_duplicates(
    rows: Iterable[Mapping[str, Any]],
    threshold: float = 0.7,
    field: str = "instruction",
    seeds: Iterable[str | Mapping[str, Any]] | None = None,
    tokenizer: str | Tokenizer = "rouge",
    progress: bool = False,
) -> NearDuplicateResult:
    """Greedy self-instruct filter in input order: a row is dropped if its ROUGE-L F against a
    seed or an earlier kept row is ``>= threshold``; otherwise it is kept and joins the pool.

    Ids: a row's (or seed's) own ``"id"`` if it has one, else its input position (seeds:
    ``"seed-<position>"``).
    """
    index = SimilarityIndex(tokenizer)
    texts: dict[str, str] = {}

    def pool(text: str, item_id: str) -> None:
        texts[index.add(text, item_id)] = text

    for i, seed in enumerate(seeds or ()):
        text = _text_of(
            seed,
            field if isinstance(seed, Mapping) and field in seed else "instruction",
            f"seed {i}",
            allow_str=True,
        )
        pool(text, str(seed["id"]) if isinstance(seed, Mapping) and "id" in seed else f"seed-{i}")
    result = NearDuplicateResult(threshold=threshold)
    for i, row in enumerate(tqdm(rows, disable=not progress, file=sys.stderr, unit="row", desc="dedup")):
        text = _text_of(row, field, f"row {i}")
        score, similar = index.max_similarity(text)
        if score >= threshold:
            result.dropped.append(
                {
                    "position": i,
                    "row": row,
                    "most_similar": {"id": similar, "score": score, "text": texts[similar]},
                }
            )
            continue
        kept = dict(row)
        kept["most_similar"] = {"id": similar, "score": score}
        result.kept.append(kept)
        pool(text, str(row["id"]) if "id" in row else str(i))
    result.pairs_scored = index.pairs_scored
    return result
