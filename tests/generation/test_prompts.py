"""The exact prompts the teacher sees (generation and labelling), and user templates."""

from __future__ import annotations

import pytest

from bioinstruct.errors import ConfigError
from bioinstruct.generation.prompting import render_generation_prompt, render_json_format, render_label_prompt

SEEDS = [
    {
        "id": "s1",
        "instruction": "Explain the mechanism of\n  action of metformin:",
        "input": "",
        "output": "Metformin lowers hepatic glucose production.",
    },
    {
        "id": "s2",
        "instruction": "Extract every drug name from the note.",
        "input": "Started lisinopril 10 mg.\nContinue aspirin.",
        "output": "lisinopril, aspirin",
    },
    {"id": "s3", "instruction": "Is the statement true?", "input": "N/A", "output": "No."},
]

EXPECTED_GENERATION = """\
You are helping to build a collection of 20 varied tasks from biomedicine and healthcare. The tasks will be given to a GPT model, and we will judge how well the model completes them.

Please follow these rules:
1. Use a different verb in each instruction, so the collection is as varied as possible.
2. Vary the wording as well: combine questions with imperative instructions.
3. Cover many kinds of tasks, for example question answering, information extraction, summarization, classification, text generation, rewriting, reasoning about a clinical case, or explaining a biomedical concept.
4. Every task must be something a language model that reads and writes text can do. It cannot see, hear, draw or produce images, audio or files, and it cannot act in the world or wait for later.
5. Write the instructions in English.
6. Keep each instruction short: one or two sentences, either an imperative or a question.
7. Give each task a realistic and substantial input drawn from the biomedical or healthcare domain, such as a clinical note, an abstract, a patient question, a drug label or a lab report. Write the actual content; never use a placeholder. Only when an instruction truly needs no input, write "<noinput>".
8. Give an appropriate, complete output for the instruction and input. Keep outputs under 100 words where you can.

Use exactly the numbered format of the examples below, with "###" between tasks, and continue the list from 4 to 20.

List of 20 tasks:
###
1. Instruction: Explain the mechanism of action of metformin
1. Input:
<noinput>
1. Output:
Metformin lowers hepatic glucose production.
###
2. Instruction: Extract every drug name from the note.
2. Input:
Started lisinopril 10 mg.
Continue aspirin.
2. Output:
lisinopril, aspirin
###
3. Instruction: Is the statement true?
3. Input:
N/A
3. Output:
No.
###
"""

EXPECTED_LABEL = """\
Assign each biomedical task instruction below to exactly one category:
QA: answering a question (multiple choice, yes/no or free text), or explaining a concept in answer to a question.
IE: extracting or classifying information in a given text, such as entities, relations, codes, values or labels.
GEN: generating or transforming text, such as summarizing, writing, rewriting, simplifying or translating.
OTHER: any task that fits none of the categories above.

Instructions:
1. What is the first-line drug for type 2 diabetes?
2. Extract the doses from the note.

Reply with exactly 2 lines, one per instruction and in the same order, each of the form "N. LABEL", where N is the number of the instruction and LABEL is one of QA, IE, GEN or OTHER. Write nothing else.
"""


def test_generation_prompt_is_exact():
    assert render_generation_prompt(SEEDS, num_tasks=20) == EXPECTED_GENERATION


def test_generation_prompt_continues_after_the_seeds():
    prompt = render_generation_prompt(SEEDS[:2], num_tasks=10)
    assert "continue the list from 3 to 10" in prompt
    assert "List of 10 tasks:" in prompt and "2. Output:\nlisinopril, aspirin\n###\n" in prompt


def test_label_prompt_is_exact():
    prompt = render_label_prompt(
        ["What is the first-line drug\nfor type 2 diabetes?", "Extract the doses from the note."]
    )
    assert prompt == EXPECTED_LABEL


def test_json_format_paragraph_names_the_range():
    text = render_json_format(first_index=4, num_tasks=20)
    assert "JSON" in text and "tasks 4 to 20" in text and '"tasks"' in text


def test_user_template(tmp_path):
    template = tmp_path / "mine.jinja"
    template.write_text(
        "Give {{ num_tasks }} tasks like:{% for s in seeds %} [{{ s.instruction }}]{% endfor %}"
    )
    assert render_generation_prompt(SEEDS[:2], num_tasks=5, template=template) == (
        "Give 5 tasks like: [Explain the mechanism of action of metformin] [Extract every drug name from the note.]"
    )


def test_user_template_errors_are_config_errors(tmp_path):
    bad = tmp_path / "bad.jinja"
    bad.write_text("{{ nope.missing }}")
    with pytest.raises(ConfigError, match="unknown variable"):
        render_generation_prompt(SEEDS, template=bad)
    broken = tmp_path / "broken.jinja"
    broken.write_text("{% for x in %}")
    with pytest.raises(ConfigError, match="broken.jinja"):
        render_generation_prompt(SEEDS, template=broken)
    with pytest.raises(ConfigError, match="not found"):
        render_generation_prompt(SEEDS, template=tmp_path / "absent.jinja")
    with pytest.raises(ConfigError, match="must exceed"):
        render_generation_prompt(SEEDS, num_tasks=3)


def test_bundled_seeds_render_and_sampling_is_deterministic(tmp_path):
    from bioinstruct.generation.builder import BioInstructBuilder

    first = BioInstructBuilder(tmp_path / "a", seed=7)
    again = BioInstructBuilder(tmp_path / "b", seed=7)
    other = BioInstructBuilder(tmp_path / "c", seed=8)
    draws = [[s["id"] for s in first.sample_seeds(n)] for n in range(1, 6)]
    assert draws == [[s["id"] for s in again.sample_seeds(n)] for n in range(1, 6)]
    assert draws != [[s["id"] for s in other.sample_seeds(n)] for n in range(1, 6)]
    assert all(len(set(ids)) == 3 for ids in draws)
    message = first.generation_messages(first.sample_seeds(1))
    assert message[0]["role"] == "user" and message[0]["content"].endswith("###\n")


def test_json_mode_paragraph_overrides_the_numbered_format_instruction():
    from bioinstruct.generation.prompting import render_json_format

    paragraph = render_json_format(first_index=4, num_tasks=20)
    assert "do not answer in that format" in paragraph
    assert 'answer only with a JSON object of the form {"tasks": [' in paragraph
    assert "holds tasks 4 to 20, in order" in paragraph


def test_the_small_teacher_prompt_is_selected_by_its_bundled_name(tmp_path):
    seeds = [
        {"instruction": "Name the drug class of metformin.", "input": "", "output": "A biguanide."},
        {"instruction": "Expand the abbreviation.", "input": "HbA1c", "output": "Glycated haemoglobin."},
    ]
    prompt = render_generation_prompt(seeds, num_tasks=4, template="generate_small.jinja")
    assert prompt.startswith("Here are 2 example tasks")
    assert "2. Input:\nHbA1c\n2. Output:\nGlycated haemoglobin." in prompt
    assert prompt.rstrip().endswith("Write 2 new, different tasks in exactly this format, numbered from 3, each "
                                    "with an Instruction, an Input and an Output.")  # fmt: skip
    with pytest.raises(ConfigError, match="generate_small.jinja"):
        render_generation_prompt(seeds, template=str(tmp_path / "generate_smal.jinja"))
