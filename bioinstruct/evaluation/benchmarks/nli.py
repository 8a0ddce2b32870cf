"""MedNLI: natural-language inference on clinical notes (credentialed, local files only)."""

from __future__ import annotations

from bioinstruct.evaluation.prompting import instruction_for
from bioinstruct.evaluation.registry import Benchmark, Item, register_benchmark

NLI_LABELS = ["entailment", "contradiction", "neutral"]
MEDNLI_HOW_TO_GET = (
    "MedNLI is credentialed data: request access at https://physionet.org/content/mednli/ , download "
    "mli_test_v1.jsonl (fields sentence1, sentence2, gold_label) and pass it with --data-file mednli=PATH "
    "(data_files={'mednli': PATH}); mli_train_v1.jsonl can serve few-shot demonstrations via --fewshot-file"
)


def _mednli_item(row: dict, index: int) -> Item:
    label = str(row["gold_label"]).strip().lower()
    return Item(
        id=str(row.get("pairID", index)),
        instruction=instruction_for("mednli"),
        input=f"Premise: {row['sentence1']}\nHypothesis: {row['sentence2']}",
        choices=list(NLI_LABELS),
        labels=list(NLI_LABELS),
        gold=NLI_LABELS.index(label),
        question=row["sentence2"],
    )


register_benchmark(
    Benchmark(
        name="mednli",
        groups=("nli", "paper"),
        task="multiple_choice",
        to_item=_mednli_item,
        how_to_get=MEDNLI_HOW_TO_GET,
        max_new_tokens=32,
        items_note="every row of the supplied MedNLI file (the official test file has 1,422 pairs)",
        description="MedNLI: entailment / contradiction / neutral (local files; PhysioNet credentials)",
    )
)
