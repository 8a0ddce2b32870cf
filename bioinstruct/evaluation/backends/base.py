"""What the backends share: variants (the base, then each adapter), prompt text and lm-eval's encoding.

Why a base class: the hf and vLLM backends must encode exactly as lm-evaluation-harness does (BOS
unless the rendered chat template already starts with it; a context's trailing spaces move into the
continuation) or their log-likelihoods stop being comparable with lm-eval's and with each other, so
that rule lives once, here. The OpenAI backend shares only the variant bookkeeping.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from bioinstruct.errors import ConfigError
from bioinstruct.evaluation.backends import Progress
from bioinstruct.evaluation.prompting import Prompt


class BaseBackend:
    """Variants over one base model: ``None`` (the bare base) and each adapter label, in order."""

    supports_loglikelihood = False
    #: Whether prompts of the ``chat`` template reach the model through its own chat template
    #: (``--cot-template auto`` then uses it).
    has_chat_template = False

    def __init__(self, model: str, adapters: Sequence[tuple[str, str]]) -> None:
        self.model_name = str(model)
        #: (label, path or served model name) of each adapter
        self.adapters = list(adapters)
        self.active: str | None = None

    def variants(self) -> list[str | None]:
        return [None, *(label for label, _ in self.adapters)]

    def set_variant(self, adapter: str | None) -> None:
        if adapter is not None and adapter not in dict(self.adapters):
            loaded = ", ".join(dict(self.adapters)) or "none"
            raise ConfigError(f"unknown adapter {adapter!r}; loaded: {loaded}")
        self.active = adapter

    def loglikelihood(
        self, requests: Sequence[tuple[str, Sequence[str]]], progress: Progress = None
    ) -> list[list[float]]:
        raise ConfigError(f"the {type(self).__name__} cannot score log-likelihoods; use --protocol generate")

    def info(self) -> dict[str, Any]:
        return {"adapters": dict(self.adapters)}

    def chat_template_name(self) -> str | None:
        """Which chat template renders ``chat`` prompts, in words (recorded in the protocol)."""
        return None

    def close(self) -> None:
        """Free resources (GPU memory, HTTP clients); nothing by default."""


class TokenizerBackend(BaseBackend):
    """A backend that holds the model's tokenizer (``self.tokenizer``): hf and vLLM."""

    supports_loglikelihood = True
    tokenizer: Any

    @property
    def has_chat_template(self) -> bool:  # type: ignore[override]
        return bool(getattr(self.tokenizer, "chat_template", None))

    def chat_template_name(self) -> str | None:
        """``the tokenizer's chat template (SmolLM2-135M-Instruct, sha256 1a2b3c4d5e6f)``: the model it
        came with and a digest, so two runs can tell whether they used the same template."""
        template = getattr(self.tokenizer, "chat_template", None)
        if not template:
            return None
        text = template if isinstance(template, str) else json.dumps(template, sort_keys=True)
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        name = self.model_name.rstrip("/").split("/")[-1] or self.model_name
        return f"the tokenizer's chat template ({name}, sha256 {digest})"

    def prompt_text(self, prompt: Prompt) -> str:
        """The exact text the model sees: the rendered template, or the model's chat template."""
        if prompt.text is not None:
            return prompt.text
        if not getattr(self.tokenizer, "chat_template", None):
            raise ConfigError(
                f"model {self.model_name!r} has no chat template; use --template bioinstruct or plain"
            )
        return self.tokenizer.apply_chat_template(prompt.messages, tokenize=False, add_generation_prompt=True)

    def encode(self, text: str) -> list[int]:
        """Token ids as lm-eval encodes them: the tokenizer's special tokens, unless the text
        already starts with BOS (a rendered chat template)."""
        bos = self.tokenizer.bos_token
        return self.tokenizer(text, add_special_tokens=not (bos and text.startswith(bos)))["input_ids"]

    def encode_pair(
        self, context: str, continuation: str, context_ids: list[int] | None = None
    ) -> tuple[list[int], list[int]]:
        """lm-eval's split: trailing spaces move to the continuation; the continuation's ids are
        what encoding the whole string adds after the context's ids."""
        spaces = len(context) - len(context.rstrip())
        if spaces:
            context, continuation = context[:-spaces], context[-spaces:] + continuation
        whole = self.encode(context + continuation)
        context_ids = self.encode(context) if context_ids is None else context_ids
        return context_ids, whole[len(context_ids) :]


__all__ = ["BaseBackend", "TokenizerBackend"]
