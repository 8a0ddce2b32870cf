"""Row -> :class:`Item` converters, named by the declarations in ``tasks/*.yaml``.

Each is ``(benchmark, row, index) -> Item`` and reads the task's text from
``benchmark.instruction`` and its parameters from ``benchmark.options``, so one converter
serves every benchmark with that row layout (``multiple_choice`` serves any Hub set with a
question, a list of choices and an answer: MMLU's subjects need no Python).

The QA inputs are, character for character, lm-evaluation-harness's own task text before its
final ``Answer:`` (``medqa_4options``, ``medmcqa`` with its ``Choices:`` line, ``pubmedqa`` with
the abstract's sections on separate lines), so the ``plain`` template reproduces lm-eval's
prompts; ``tests/evaluation/test_lmeval_parity.py`` checks it against lm-eval on a real model.
"""

from __future__ import annotations

import string
from typing import Any

from bioinstruct.benchmarks.declaration import Benchmark, Item
from bioinstruct.benchmarks.functions import register_converter
from bioinstruct.benchmarks.iob import mentions_from_iob
from bioinstruct.benchmarks.metrics import normalize_entity

LETTERS = list(string.ascii_uppercase)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _options_block(question: str, options: list[str], header: str = "", prefix: str = "Question: ") -> str:
    """``Question: ...`` then one ``A. ...`` line per option (after ``header``, e.g. ``Choices:``)."""
    lines = [f"{prefix}{question}", *([header] if header else [])]
    return "\n".join(lines + [f"{letter}. {text}" for letter, text in zip(LETTERS, options, strict=False)])


def _choice_item(
    bench: Benchmark, row: dict, index: int, options: list[str], gold: int, **fields: Any
) -> Item:
    labels = LETTERS[: len(options)]
    if not 0 <= gold < len(options):
        raise ValueError(f"the answer must index one of the {len(options)} options, got {gold}")
    return Item(
        id=str(row.get("id", index)),
        instruction=bench.instruction,
        choices=options,
        labels=labels,
        gold=gold,
        **fields,
    )


@register_converter("multiple_choice")
def multiple_choice(bench: Benchmark, row: dict, index: int) -> Item:
    """A question, a list of choices and the answer (an index, or a letter): MMLU's schema by default.

    Options: ``question``/``choices``/``answer`` (field names), ``question_prefix`` (default none,
    as lm-eval's MMLU prompt), ``choices_header`` (a line before the options).
    """
    opts = bench.options
    question = _text(row[opts.get("question", "question")])
    options = [str(choice) for choice in row[opts.get("choices", "choices")]]
    answer = row[opts.get("answer", "answer")]
    gold = LETTERS.index(answer.strip().upper()) if isinstance(answer, str) else int(answer)
    block = _options_block(question, options, opts.get("choices_header", ""), opts.get("question_prefix", ""))
    return _choice_item(bench, row, index, options, gold, input=block, question=question)


@register_converter("medqa")
def medqa(bench: Benchmark, row: dict, index: int) -> Item:
    """GBaker/MedQA-USMLE-4-options: ``options`` is a dict A-D, ``answer_idx`` a letter."""
    options = [row["options"][letter] for letter in LETTERS[:4]]
    return _choice_item(
        bench, row, index, options, LETTERS.index(row["answer_idx"]),
        input=_options_block(row["question"], options), question=row["question"],
    )  # fmt: skip


@register_converter("medmcqa")
def medmcqa(bench: Benchmark, row: dict, index: int) -> Item:
    """openlifescienceai/medmcqa: ``opa``-``opd`` and a 0-based ``cop`` (lm-eval shows ``Choices:``)."""
    options = [row["opa"], row["opb"], row["opc"], row["opd"]]
    cop = int(row["cop"])
    if not 0 <= cop <= 3:
        raise ValueError(f"cop must be 0-3 (0 = opa), got {cop}")
    return _choice_item(
        bench, row, index, options, cop,
        input=_options_block(row["question"], options, header="Choices:"), question=row["question"],
    )  # fmt: skip


def _labelled_item(bench: Benchmark, item_id: Any, text: str, label: Any, question: str) -> Item:
    """A multiple-choice item whose options are the declaration's ``labels`` (yes/no, NLI classes)."""
    labels = list(bench.options["labels"])
    return Item(
        id=str(item_id),
        instruction=bench.instruction,
        input=text,
        choices=labels,
        labels=labels,
        gold=labels.index(str(label).strip().lower()),
        question=question,
    )


@register_converter("pubmedqa")
def pubmedqa(bench: Benchmark, row: dict, index: int) -> Item:
    """The Hub's pqa_labeled schema or an original ori_pqal.json / test_set.json record."""
    question = row["question"] if "question" in row else row["QUESTION"]
    contexts = row["context"]["contexts"] if "context" in row else row["CONTEXTS"]
    text = "Abstract: " + "\n".join(contexts) + f"\nQuestion: {question}"
    pubid = row.get("pubid", row.get("_key", index))
    return _labelled_item(bench, pubid, text, row["final_decision"], question)


@register_converter("bioasq")
def bioasq(bench: Benchmark, row: dict, index: int) -> Item:
    """A BioASQ Task B yes/no question with its snippets."""
    answer = row["exact_answer"]
    answer = answer[0] if isinstance(answer, list) else answer
    snippets = " ".join(snippet["text"].strip() for snippet in row.get("snippets", []))
    text = f"Snippets: {snippets}\nQuestion: {row['body']}"
    return _labelled_item(bench, row["id"], text, answer, row["body"])


@register_converter("nli")
def nli(bench: Benchmark, row: dict, index: int) -> Item:
    """MedNLI's ``sentence1``/``sentence2``/``gold_label``."""
    text = f"Premise: {row['sentence1']}\nHypothesis: {row['sentence2']}"
    return _labelled_item(bench, row.get("pairID", index), text, row["gold_label"], row["sentence2"])


def _list_item(bench: Benchmark, reference: list[str], item_id: Any, text: str, **fields: Any) -> Item:
    """An item whose demonstration lists the answers the way the prompts ask: "a; b" or "none"."""
    return Item(
        id=str(item_id),
        instruction=fields.pop("instruction", bench.instruction),
        input=text,
        reference=reference,
        demo_answer="; ".join(reference) or "none",
        **{"question": text, **fields},
    )


@register_converter("iob_mentions")
def iob_mentions(bench: Benchmark, row: dict, index: int) -> Item:
    """CoNLL ``tokens`` + ``ner_tags``: the gold mentions are rebuilt from the IOB tags."""
    sentence = " ".join(row["tokens"])
    return _list_item(
        bench, mentions_from_iob(row["tokens"], row["ner_tags"]), row.get("id", index), sentence
    )


@register_converter("relation")
def relation(bench: Benchmark, row: dict, index: int) -> Item:
    """A BLUE relation row (``index``, ``sentence``, ``label``); the label must be a declared one."""
    label = row["label"]
    if label not in bench.options["labels"]:
        raise ValueError(f"label {label!r} is not one of {bench.options['labels']}")
    return Item(
        id=str(row.get("index", index)),
        instruction=bench.instruction,
        input=row["sentence"],
        reference=label,
        question=row["sentence"],
    )


@register_converter("medication_status")
def medication_status(bench: Benchmark, row: dict, index: int) -> Item:
    """A clinical note with ``medications: [{name, status}]``; the reference is "name: status" pairs."""
    statuses = bench.options["statuses"]
    pairs = []
    for med in row["medications"]:
        status = str(med["status"]).strip().lower()
        if status not in statuses:
            raise ValueError(f"medication status {med['status']!r} is not one of {list(statuses)}")
        pairs.append(f"{med['name']}: {status}")
    return _list_item(bench, pairs, row.get("id", index), row["text"])


@register_converter("coreference")
def coreference(bench: Benchmark, row: dict, index: int) -> Item:
    """A note, a marked ``anaphor`` and its ``antecedents`` (the instruction names the anaphor)."""
    antecedents = row["antecedents"]
    if isinstance(antecedents, str):
        antecedents = [antecedents]
    if not antecedents or not all(normalize_entity(a) for a in antecedents):
        raise ValueError("antecedents must be a non-empty list of phrases")
    return _list_item(
        bench, list(antecedents), row.get("id", index), row["text"],
        instruction=bench.instruction.format(anaphor=row["anaphor"]),
        question=f'{row["text"]}\n\nWhat does "{row["anaphor"]}" refer to?',
    )  # fmt: skip


@register_converter("mts_dialog")
def mts_dialog(bench: Benchmark, row: dict, index: int) -> Item:
    """A doctor-patient dialogue and the note section to write (``section_header`` -> words)."""
    header = _text(row["section_header"])
    section = bench.options.get("sections", {}).get(header, header.lower())
    dialogue = _text(row["dialogue"])
    return Item(
        id=_text(row.get("ID", index)),
        instruction=bench.instruction.format(section=section),
        input=dialogue,
        reference=_text(row["section_text"]),
        question=f"Section to write: {section} ({header})\n\nConversation:\n{dialogue}",
    )


@register_converter("free_text")
def free_text(bench: Benchmark, row: dict, index: int) -> Item:
    """A question and one reference answer, in the fields the options name (``id``, ``question``, ``answer``)."""
    opts = bench.options
    question = _text(row[opts["question"]])
    return Item(
        id=_text(row.get(opts.get("id", "id"))) or str(index),
        instruction=bench.instruction,
        input=question,
        reference=_text(row[opts["answer"]]),
        question=question,
    )


@register_converter("liveqa")
def liveqa(bench: Benchmark, row: dict, index: int) -> Item:
    """A TREC LiveQA question (``SUBJECT`` + ``MESSAGE``) with several ``ReferenceAnswers``."""
    question = "\n".join(part for part in (_text(row.get("SUBJECT")), _text(row.get("MESSAGE"))) if part)
    answers = [_text(ans["ANSWER"]) for ans in row["ReferenceAnswers"] if _text(ans.get("ANSWER"))]
    if not question or not answers:
        raise ValueError("a LiveQA row needs SUBJECT or MESSAGE and at least one ReferenceAnswers[].ANSWER")
    return Item(
        id=_text(row.get("qid")) or str(index),
        instruction=bench.instruction,
        input=question,
        reference=answers,
        question=question,
        demo_answer=answers[0],  # a demonstration shows one reference answer, not all of them joined
    )


@register_converter("instruction_row")
def instruction_row(bench: Benchmark, row: dict, index: int) -> Item:
    """An Alpaca / ``bioinstruct generate`` row: its own instruction, input and reference output."""
    instruction = _text(row["instruction"])
    output = _text(row["output"])
    if not instruction or not output:
        raise ValueError("an instruction row needs a non-empty 'instruction' and 'output'")
    input_text = _text(row.get("input"))
    return Item(
        id=str(row.get("id") or index),
        instruction=instruction,
        input=input_text,
        reference=output,
        question=f"{instruction}\n\n{input_text}".strip(),
    )
