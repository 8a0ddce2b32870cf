"""Turn ``{instruction, input, output}`` rows into what TRL's ``SFTTrainer`` trains on.

Why prompt/completion pairs: TRL computes the loss on the completion only for
prompt/completion datasets and appends the EOS token to each completion, so the model learns
to answer and to stop, never to predict the prompt. The ``chat`` template emits
conversational pairs that the tokenizer's own chat template renders; with
``assistant_only_loss`` it emits ``messages`` instead, which need ``{% generation %}``
markers in that template (checked in :mod:`bioinstruct.training.preflight`).

The same renderer serves evaluation, so a model is asked exactly what it was trained on; that is
why it sits in the core layer, below both stages.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

import yaml

from bioinstruct.errors import ConfigError

CHAT_TEMPLATE_NAME = "chat"
_FIELD = re.compile(r"\{(instruction|input)\}")


@cache
def _text_templates() -> dict[str, dict[str, str]]:
    source = resources.files("bioinstruct").joinpath("prompt_templates.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(source)


def template_names() -> list[str]:
    """All template names: the text templates of ``prompt_templates.yaml`` plus ``chat``."""
    return [*_text_templates(), CHAT_TEMPLATE_NAME]


def check_template_name(name: str) -> None:
    if name not in template_names():
        raise ConfigError(f"unknown prompt template {name!r}; expected one of {', '.join(template_names())}")


def render_prompt(instruction: str, input: str = "", template: str = "bioinstruct") -> str:  # noqa: A002
    """The text a model sees before its answer, for a text template (not ``chat``).

    Ends with the response header and its separator (``"### Output:\\n"``), so the answer
    follows directly. Fields are substituted once, so braces in user text are safe.
    """
    check_template_name(template)
    if template == CHAT_TEMPLATE_NAME:
        raise ConfigError("the 'chat' template is rendered by the tokenizer; use render_chat_messages()")
    spec = _text_templates()[template]
    body = spec["with_input"] if (input or "").strip() else spec["without_input"]
    values = {"instruction": instruction.strip(), "input": (input or "").strip()}
    return fill_fields(body, values) + spec.get("response_separator", "\n")


def fill_fields(template: str, values: dict[str, str]) -> str:
    """``template`` with ``{instruction}`` and ``{input}`` replaced once (braces in the values are safe,
    unlike ``str.format``)."""
    return _FIELD.sub(lambda match: values[match.group(1)], template)


def render_chat_messages(instruction: str, input: str = "") -> list[dict[str, str]]:  # noqa: A002
    """The user turn for the ``chat`` template: the instruction, then the input after a blank line."""
    content = instruction.strip()
    if (input or "").strip():
        content += "\n\n" + input.strip()
    return [{"role": "user", "content": content}]


def to_training_example(
    row: dict[str, Any], template: str, assistant_only_loss: bool = False
) -> dict[str, Any]:
    """One dataset row -> the TRL format for ``template`` (prompt/completion or messages)."""
    instruction, input_text, output = row["instruction"], row.get("input") or "", row["output"].strip()
    if template == CHAT_TEMPLATE_NAME:
        user = render_chat_messages(instruction, input_text)
        assistant = [{"role": "assistant", "content": output}]
        if assistant_only_loss:
            return {"messages": user + assistant}
        return {"prompt": user, "completion": assistant}
    return {"prompt": render_prompt(instruction, input_text, template), "completion": output}


def format_dataset(dataset, template: str, assistant_only_loss: bool = False, num_proc: int | None = None):
    """Map a ``datasets.Dataset`` of instruction rows to TRL's format, dropping the other columns."""
    check_template_name(template)
    return dataset.map(
        to_training_example,
        fn_kwargs={"template": template, "assistant_only_loss": assistant_only_loss},
        remove_columns=dataset.column_names,
        num_proc=num_proc,
        desc=f"Formatting with the {template!r} template",
    )


def template_note(template: str, tokenizer: Any) -> str | None:
    """One line when a chat model is trained on a text template (or the reverse is impossible).

    Why: an instruct model tuned on the paper's Alpaca-style text learns a second prompt format;
    evaluated in its own chat format it then looks worse, and in the text format its "gain" is
    partly the format itself. Not an error: the paper did exactly this with base models.
    """
    if template == CHAT_TEMPLATE_NAME or not getattr(tokenizer, "chat_template", None):
        return None
    return (
        f"this model has a chat template but the recipe uses the {template!r} text template; "
        "set `prompt_template: chat` to train it in its own format (and evaluate with --template chat)"
    )
