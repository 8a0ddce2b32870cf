"""Question-answering benchmarks of the paper: MedQA, MedMCQA, PubMedQA and BioASQ (yes/no).

Each row becomes an :class:`Item` whose ``input`` is, character for character, the text of
lm-evaluation-harness's own task (``medqa_4options``, ``medmcqa``, ``pubmedqa``) before its
final ``Answer:``: so the ``plain`` template (``{input}\nAnswer:``, options scored as `` A`` or
`` yes``) is lm-eval's prompt, and the paper and chat templates show the same text. The three
layouts differ: MedMCQA has a ``Choices:`` line, MedQA has none, and PubMedQA puts each
abstract section on its own line. ``tests/evaluation/test_lmeval_parity.py`` checks it against
lm-eval itself on the real model.
"""

from __future__ import annotations

import json
from pathlib import Path

from bioinstruct.errors import DataError
from bioinstruct.evaluation.prompting import instruction_for
from bioinstruct.evaluation.registry import (
    Benchmark,
    HubSource,
    Item,
    load_hub_rows,
    read_json_rows,
    register_benchmark,
)

LETTERS = ["A", "B", "C", "D"]


def _options_block(question: str, options: list[str], header: str = "") -> str:
    """``Question: ...`` then one ``A. ...`` line per option (after ``header``, e.g. ``Choices:``)."""
    lines = [f"Question: {question}", *([header] if header else [])]
    return "\n".join(lines + [f"{letter}. {text}" for letter, text in zip(LETTERS, options, strict=True)])


def _medqa_item(row: dict, index: int) -> Item:
    options = [row["options"][letter] for letter in LETTERS]
    return Item(
        id=str(row.get("id", index)),
        instruction=instruction_for("medqa"),
        input=_options_block(row["question"], options),
        choices=options,
        labels=list(LETTERS),
        gold=LETTERS.index(row["answer_idx"]),
        question=row["question"],
    )


register_benchmark(
    Benchmark(
        name="medqa",
        groups=("qa", "paper"),
        task="multiple_choice",
        to_item=_medqa_item,
        hub=HubSource("GBaker/MedQA-USMLE-4-options", split="test"),
        fewshot_hub=HubSource("GBaker/MedQA-USMLE-4-options", split="train"),
        items_note="US 4-option test split (1,273 items)",
        max_new_tokens=32,
        description="MedQA-USMLE, 4 options (A-D)",
    )
)


def _medmcqa_item(row: dict, index: int) -> Item:
    options = [row["opa"], row["opb"], row["opc"], row["opd"]]
    cop = int(row["cop"])
    if not 0 <= cop <= 3:
        raise ValueError(f"cop must be 0-3 (0 = opa), got {cop}")
    return Item(
        id=str(row.get("id", index)),
        instruction=instruction_for("medmcqa"),
        # lm-eval's medmcqa (utils_medmcqa.doc_to_text) lists the options under "Choices:".
        input=_options_block(row["question"], options, header="Choices:"),
        choices=options,
        labels=list(LETTERS),
        gold=cop,
        question=row["question"],
    )


register_benchmark(
    Benchmark(
        name="medmcqa",
        groups=("qa", "paper"),
        task="multiple_choice",
        to_item=_medmcqa_item,
        hub=HubSource("openlifescienceai/medmcqa", split="validation"),
        fewshot_hub=HubSource("openlifescienceai/medmcqa", split="train"),
        items_note="validation split (4,183 items) used as test: the test labels are hidden",
        max_new_tokens=32,
        description="MedMCQA, 4 options; cop is 0-based (0 = opa)",
    )
)

YES_NO_MAYBE = ["yes", "no", "maybe"]
PUBMEDQA_HUB = HubSource("qiaojin/PubMedQA", "pqa_labeled", split="train")


def _pubmedqa_item(row: dict, index: int) -> Item:
    # Hub schema (pqa_labeled) or the original ori_pqal.json / test_set.json record.
    question = row["question"] if "question" in row else row["QUESTION"]
    contexts = row["context"]["contexts"] if "context" in row else row["CONTEXTS"]
    decision = str(row["final_decision"]).strip().lower()
    pubid = row.get("pubid", row.get("_key", index))
    return Item(
        id=str(pubid),
        instruction=instruction_for("pubmedqa"),
        # lm-eval's pubmedqa joins the abstract's sections with newlines.
        input="Abstract: " + "\n".join(contexts) + f"\nQuestion: {question}",
        choices=list(YES_NO_MAYBE),
        labels=list(YES_NO_MAYBE),
        gold=YES_NO_MAYBE.index(decision),
        question=question,
    )


def _read_pubmedqa(path: Path) -> list[dict]:
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


register_benchmark(
    Benchmark(
        name="pubmedqa",
        groups=("qa", "paper"),
        task="multiple_choice",
        to_item=_pubmedqa_item,
        hub=PUBMEDQA_HUB,
        read_local=_read_pubmedqa,
        max_new_tokens=32,
        items_note=(
            "from the Hub: all 1,000 expert-labelled items of pqa_labeled; pass the official "
            "test_ground_truth.json (or test_set.json) with --data-file pubmedqa=PATH to score the 500-item test split"
        ),
        local_items_note=(
            "the {n} items of the supplied file (the official PQA-L test split, test_ground_truth.json or "
            "test_set.json, has 500 items; all expert-labelled items of pqa_labeled: 1,000)"
        ),
        description="PubMedQA PQA-L: yes/no/maybe from an abstract",
    )
)

YES_NO = ["yes", "no"]
BIOASQ_HOW_TO_GET = (
    "BioASQ Task B data needs a free registration: download the golden test batches "
    "(e.g. 11B1_golden.json) from https://participants-area.bioasq.org/datasets/ and pass a file or a folder "
    "of them with --data-file bioasq=PATH (data_files={'bioasq': PATH})"
)


def _read_bioasq(path: Path) -> list[dict]:
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


def _bioasq_item(row: dict, index: int) -> Item:
    answer = row["exact_answer"]
    answer = answer[0] if isinstance(answer, list) else answer
    snippets = " ".join(snippet["text"].strip() for snippet in row.get("snippets", []))
    return Item(
        id=str(row["id"]),
        instruction=instruction_for("bioasq"),
        input=f"Snippets: {snippets}\nQuestion: {row['body']}",
        choices=list(YES_NO),
        labels=list(YES_NO),
        gold=YES_NO.index(str(answer).strip().lower()),
        question=row["body"],
    )


register_benchmark(
    Benchmark(
        name="bioasq",
        groups=("qa", "paper"),
        task="multiple_choice",
        to_item=_bioasq_item,
        read_local=_read_bioasq,
        how_to_get=BIOASQ_HOW_TO_GET,
        max_new_tokens=32,
        items_note="the yes/no questions (type == 'yesno') of the supplied Task B golden batches, with their snippets",
        description="BioASQ Task B yes/no (local files; registration needed)",
    )
)
