"""``instructions``: score free-text answers to any instruction file (held-out rows of your own data).

Why a benchmark and not a script: the first question after training on generated data is "does
the adapter follow *unseen* instructions of the same kind better than the base?". Declaring it
as a benchmark gives that check the same backends, unmerged adapter switching, cache, protocol
record, report and judge as the published benchmarks. Rows are ``{"instruction", "input",
"output"}`` (Alpaca / ``bioinstruct generate`` rows); the output is the reference and the
metric is ROUGE-L, as in self-instruct's own held-out evaluation.
"""

from __future__ import annotations

from bioinstruct.evaluation.benchmarks.gen import JUDGE_AXES, generation_metrics, rouge_l_item_score
from bioinstruct.evaluation.benchmarks.ie_gen_common import read_rows
from bioinstruct.evaluation.registry import Benchmark, Item, register_benchmark


def _instruction_item(row: dict, index: int) -> Item:
    instruction = str(row["instruction"]).strip()
    output = str(row["output"]).strip()
    if not instruction or not output:
        raise ValueError("an instruction row needs a non-empty 'instruction' and 'output'")
    input_text = str(row.get("input") or "").strip()
    return Item(
        id=str(row.get("id") or index),
        instruction=instruction,
        input=input_text,
        reference=output,
        question=f"{instruction}\n\n{input_text}".strip(),
    )


register_benchmark(
    Benchmark(
        name="instructions",
        groups=("custom",),
        task="generation",
        to_item=_instruction_item,
        read_local=read_rows,
        how_to_get=(
            "pass --data-file instructions=FILE: a JSON/JSONL file of rows with instruction, input (may be empty) "
            "and output, e.g. rows held out from your training data"
        ),
        items_note="every row of the supplied instruction file",
        description="Held-out instructions of your own data (instruction/input/output), ROUGE-L against the output",
        max_new_tokens=128,
        corpus_metrics=generation_metrics,
        item_score=rouge_l_item_score,
        primary_metric="rougeL",
        judge_axes=JUDGE_AXES,
    )
)
