"""The prompt templates render exactly the text the paper's model was trained on."""

import pytest

from bioinstruct.errors import ConfigError
from bioinstruct.formatting import (
    format_dataset,
    render_chat_messages,
    render_prompt,
    template_names,
    to_training_example,
)

PREAMBLE = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request."
)


def test_bioinstruct_template_with_input_is_exact():
    prompt = render_prompt("List the drugs.", "Aspirin 81 mg daily.", "bioinstruct")
    assert (
        prompt
        == f"{PREAMBLE}\n\n### Instruction:\nList the drugs.\n\n### Input:\nAspirin 81 mg daily.\n\n### Output:\n"
    )


def test_bioinstruct_template_drops_the_input_block_when_input_is_empty():
    assert render_prompt("What is HbA1c?", "  ", "bioinstruct") == (
        f"{PREAMBLE}\n\n### Instruction:\nWhat is HbA1c?\n\n### Output:\n"
    )


def test_alpaca_template_is_stanford_alpaca_verbatim():
    assert render_prompt("Define sepsis.", "", "alpaca") == (
        "Below is an instruction that describes a task. Write a response that appropriately completes the request."
        "\n\n### Instruction:\nDefine sepsis.\n\n### Response:\n"
    )
    assert render_prompt("Summarise.", "Text.", "alpaca").endswith("### Input:\nText.\n\n### Response:\n")


def test_braces_and_placeholders_in_user_text_are_left_alone():
    prompt = render_prompt("Fill {input} and {x}", "value {instruction}", "bioinstruct")
    assert "### Instruction:\nFill {input} and {x}\n" in prompt
    assert "### Input:\nvalue {instruction}\n" in prompt


def test_unknown_template_is_one_clear_error():
    with pytest.raises(ConfigError, match="unknown prompt template 'vicuna'.*bioinstruct, alpaca, chat"):
        render_prompt("x y z", "", "vicuna")
    assert template_names() == ["bioinstruct", "alpaca", "chat"]


def test_training_examples_are_prompt_completion_pairs():
    row = {"instruction": "Name the drug.", "input": "", "output": " Metformin. ", "category": "IE"}
    assert to_training_example(row, "bioinstruct") == {
        "prompt": f"{PREAMBLE}\n\n### Instruction:\nName the drug.\n\n### Output:\n",
        "completion": "Metformin.",
    }
    chat = to_training_example({**row, "input": "Note: metformin."}, "chat")
    assert chat == {
        "prompt": [{"role": "user", "content": "Name the drug.\n\nNote: metformin."}],
        "completion": [{"role": "assistant", "content": "Metformin."}],
    }
    assert to_training_example(row, "chat", assistant_only_loss=True) == {
        "messages": render_chat_messages("Name the drug.") + [{"role": "assistant", "content": "Metformin."}]
    }


def test_format_dataset_keeps_only_trl_columns():
    from datasets import Dataset

    dataset = Dataset.from_list([{"instruction": "a b c", "input": "d", "output": "e", "category": "QA"}])
    formatted = format_dataset(dataset, "alpaca")
    assert formatted.column_names == ["prompt", "completion"]


def test_a_chat_model_on_a_text_template_gets_one_note_and_a_chat_template_none():
    from types import SimpleNamespace

    from bioinstruct.formatting import template_note

    chat_model = SimpleNamespace(chat_template="{{ messages }}")
    note = template_note("bioinstruct", chat_model)
    assert note is not None and "\n" not in note and "prompt_template: chat" in note
    assert template_note("chat", chat_model) is None
    assert template_note("bioinstruct", SimpleNamespace(chat_template=None)) is None, (
        "a base model: the paper's way"
    )
