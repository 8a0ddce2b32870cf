"""Parsing teacher replies: the numbered format, its common decorations, truncation, refusals, JSON mode."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from bioinstruct.generation.parsing import Candidate, normalize_input, parse_json, parse_numbered, parse_reply

KNOWN_REPLY = """\
Here are 3 more tasks:
###
4. Instruction: Summarize the discharge note in two sentences.
4. Input:
72-year-old man admitted with community-acquired pneumonia.
Treated with ceftriaxone and azithromycin; discharged on day 5.
4. Output:
A 72-year-old man was treated for pneumonia with antibiotics.
He improved and went home on day 5.
###
**5. Instruction:** List the **contraindications** of metformin.
**5. Input:** <noinput>
**5. Output:** Severe renal impairment, metabolic acidosis.
###
6. **Instruction**: Classify the sentence as "negated" or "affirmed".
6. **Input**: N/A
6. **Output**: **affirmed**
###
7. Instruction: Name the enzyme deficient in phenylketonuria.
7. Output: Phenylalanine hydroxylase.
"""


def test_known_reply_parses_to_exact_candidates():
    result = parse_numbered(KNOWN_REPLY, "stop", first_index=4)
    assert result.problem is None and result.truncated == 0
    assert result.candidates == [
        Candidate(
            4,
            "Summarize the discharge note in two sentences.",
            "72-year-old man admitted with community-acquired pneumonia.\n"
            "Treated with ceftriaxone and azithromycin; discharged on day 5.",
            "A 72-year-old man was treated for pneumonia with antibiotics.\nHe improved and went home on day 5.",
        ),
        Candidate(
            5,
            "List the **contraindications** of metformin.",
            "",
            "Severe renal impairment, metabolic acidosis.",
        ),
        Candidate(6, 'Classify the sentence as "negated" or "affirmed".', "", "affirmed"),
        Candidate(7, "Name the enzyme deficient in phenylketonuria.", "", "Phenylalanine hydroxylase."),
    ]


def test_truncated_last_item_is_dropped_complete_ones_kept():
    cut = (
        KNOWN_REPLY
        + "###\n8. Instruction: Explain the Krebs cycle.\n8. Input:\n<noinput>\n8. Output:\nThe Krebs cy"
    )
    result = parse_numbered(cut, "length")
    assert [c.index for c in result.candidates] == [4, 5, 6, 7]
    assert result.truncated == 1 and result.problem is None
    assert [c.index for c in parse_numbered(cut, "stop").candidates] == [4, 5, 6, 7, 8]


def test_only_a_truncated_item():
    result = parse_numbered("4. Instruction: Explain the Krebs cy", "length")
    assert result.candidates == [] and result.truncated == 1 and result.problem == "truncated"


def test_refusal_empty_unparseable_and_content_filter():
    assert parse_numbered("I'm sorry, but I can't help with that request.").problem == "refusal"
    assert parse_numbered("").problem == "empty"
    assert parse_numbered(None).problem == "empty"
    assert parse_numbered("Tasks: a, b and c.").problem == "unparseable"
    assert parse_numbered("", "content_filter").problem == "content_filter"


def test_missing_output_is_kept_empty_so_the_filter_records_it():
    result = parse_numbered("4. Instruction: Define sepsis in one sentence.\n4. Input:\n<noinput>\n")
    assert result.candidates == [Candidate(4, "Define sepsis in one sentence.", "", "")]


def test_marker_words_inside_an_output_do_not_split_items():
    text = "4. Instruction: Write the dosing plan.\n4. Output:\nDay 1: load.\nInput: 5 mg daily\nOutput: none"
    (candidate,) = parse_numbered(text).candidates
    assert candidate.output == "Day 1: load.\nInput: 5 mg daily\nOutput: none"


def test_unnumbered_markers_and_renumbering():
    text = "Instruction: Define anemia briefly.\nInput: None\nOutput: Low hemoglobin.\n\n"
    text += "Instruction: Define fever briefly.\nOutput: Raised temperature."
    result = parse_numbered(text, first_index=4)
    assert [(c.index, c.instruction, c.input) for c in result.candidates] == [
        (4, "Define anemia briefly.", ""),
        (5, "Define fever briefly.", ""),
    ]


def test_no_input_variants():
    for text in (
        "<noinput>",
        "<No Input>",
        "N/A",
        "n/a",
        "None",
        "none.",
        "(none)",
        "No input",
        "-",
        "",
        "  ",
    ):
        assert normalize_input(text) == "", text
    assert normalize_input("None of the listed drugs") == "None of the listed drugs"


def test_json_mode_same_result_type():
    tasks = [
        {"instruction": "Define anemia briefly.", "input": "", "output": "Low hemoglobin."},
        {"Instruction": "Define fever briefly.", "input": None, "output": "Raised temperature."},
        "not a task",
    ]
    result = parse_json(json.dumps({"tasks": tasks}), "stop", first_index=4)
    assert result.candidates == [
        Candidate(4, "Define anemia briefly.", "", "Low hemoglobin."),
        Candidate(5, "Define fever briefly.", "", "Raised temperature."),
    ]
    fenced = "```json\n" + json.dumps(tasks[:1]) + "\n```"
    assert parse_reply(fenced, mode="json", first_index=4).candidates == result.candidates[:1]


def test_json_mode_truncated_keeps_complete_objects():
    text = json.dumps(
        {"tasks": [{"instruction": "Define anemia briefly.", "input": "", "output": "Low Hb."}]}
    )
    cut = text[:-2] + ', {"instruction": "Define fe'
    result = parse_json(cut, "length", first_index=4)
    assert [c.instruction for c in result.candidates] == ["Define anemia briefly."]
    assert result.truncated == 1
    assert parse_json("Sorry, I cannot do that.").problem == "refusal"
    assert parse_json('{"answer": 42}').problem == "unparseable"


words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)
sentences = st.lists(words, min_size=1, max_size=8).map(" ".join)
# An input that is itself a no-input marker ("none", "na", "empty") rightly parses as "".
inputs = st.one_of(st.just(""), sentences.filter(lambda text: normalize_input(text) == text))
items = st.lists(st.tuples(sentences, inputs, sentences), min_size=1, max_size=6)


@settings(max_examples=60, deadline=None)
@given(items=items, bold=st.booleans())
def test_round_trip_of_well_formed_lists(items, bold):
    star = "**" if bold else ""
    text = ""
    for n, (instruction, input_text, output) in enumerate(items, start=4):
        text += (
            f"###\n{star}{n}. Instruction:{star} {instruction}\n{n}. Input:\n{input_text or '<noinput>'}\n"
        )
        text += f"{n}. Output:\n{output}\n"
    result = parse_numbered(text + "###\n")
    assert [(c.instruction, c.input, c.output) for c in result.candidates] == items
    assert [c.index for c in result.candidates] == list(range(4, 4 + len(items)))


def test_a_doubled_item_number_from_a_real_small_model_is_read():
    # SmolLM2-135M-Instruct behind transformers serve (sampling), cut at max_tokens=200: "1. 1. Instruction:"
    text = (
        "1. 1. Instruction: Outline a brief plan for lifestyle counseling for a newly diagnosed adult with "
        "prediabetes.\n2. 2. Input: 2. A1C 6.1%\n3. 3. Output: 3. A1C 6.1%\n4. 4. 1. Instructions: 4. Weight: "
        "aim to lose 5-7% of body weight (roughly 5-7 kg) over 6 months\n5. 5. 1. Instructions: 5. Identify 100 "
        "words of advice\n"
    )
    result = parse_numbered(text, "stop", first_index=2)
    [candidate] = result.candidates
    assert candidate.instruction.startswith("Outline a brief plan for lifestyle counseling")
    assert (candidate.index, candidate.input, candidate.output.splitlines()[0]) == (
        1,
        "2. A1C 6.1%",
        "3. A1C 6.1%",
    )


def test_a_numbered_input_after_a_complete_item_starts_a_new_item():
    # SmolLM2-135M-Instruct behind transformers serve, cut at max_tokens=160: item 3 has no Instruction
    # line, so its "3. Input:" used to run into item 1's output and the whole reply was dropped as truncated.
    text = (
        "1. Instruction: Would an answer to the first patient question also answer the second?\n2. Input:\n"
        "Question 1: Could a doctor take metformin to treat diabetes?\nQuestion 2: My doctor put me on metformin "
        "for my diabetes and I am considering taking it off now.\n2. Output:\nYes. The second question is a "
        "specific instance of the first.\n3. Input:\nQuestion 1: Could a doctor take metformin to treat "
        "diabetes?\n3. Output:\nNo. The answer"
    )
    result = parse_numbered(text, "length")
    [candidate] = result.candidates
    assert candidate.instruction == "Would an answer to the first patient question also answer the second?"
    assert candidate.input.endswith("considering taking it off now.")
    assert candidate.output == "Yes. The second question is a specific instance of the first."
    assert result.truncated == 1 and result.problem is None
    # Complete, the instruction-less item is kept for the instruction_length filter to record.
    complete = parse_numbered(text + " is no.\n", "stop")
    assert [(c.index, c.instruction, c.output) for c in complete.candidates][1] == (
        3,
        "",
        "No. The answer is no.",
    )
