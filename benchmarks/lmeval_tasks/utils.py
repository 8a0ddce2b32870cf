"""Row conversions for the local lm-eval tasks in this folder (loaded by lm-eval, never by bioinstruct).

The prompts themselves are lm-eval's own functions (``lm_eval.tasks.<task>.*.doc_to_text``,
referenced from the YAMLs), so a change in lm-eval's prompt shows up in the parity test
instead of being copied around. Only the row schema needs adapting where lm-eval reads a
different Hub copy than the one users load:

- ``medqa_4options`` reads ``GBaker/MedQA-USMLE-4-options-hf`` (SWAG layout: ``sent1``,
  ``ending0``-``ending3`` in option order A-D, 0-based ``label``); the samples and
  bioinstruct use ``GBaker/MedQA-USMLE-4-options`` (``question``, ``options`` A-D,
  ``answer_idx``).
- ``pubmedqa`` reads ``bigbio/pubmed_qa`` (source schema ``QUESTION``, ``CONTEXTS``,
  ``final_decision``); a ``qiaojin/PubMedQA`` ``pqa_labeled`` file is converted to it.
"""

from __future__ import annotations

LETTERS = ("A", "B", "C", "D")


def medqa_to_hf_schema(dataset):
    """``GBaker/MedQA-USMLE-4-options`` rows as ``GBaker/MedQA-USMLE-4-options-hf`` rows."""

    def convert(row: dict) -> dict:
        endings = {f"ending{i}": row["options"][letter] for i, letter in enumerate(LETTERS)}
        return {"sent1": row["question"], **endings, "label": LETTERS.index(row["answer_idx"])}

    return dataset.map(convert)


def pubmedqa_to_bigbio_schema(dataset):
    """``pqa_labeled`` rows as ``bigbio/pubmed_qa`` source rows; bigbio rows pass unchanged."""
    if "CONTEXTS" in dataset.column_names:
        return dataset

    def convert(row: dict) -> dict:
        return {
            "QUESTION": row["question"],
            "CONTEXTS": row["context"]["contexts"],
            "final_decision": row["final_decision"],
        }

    return dataset.map(convert)
