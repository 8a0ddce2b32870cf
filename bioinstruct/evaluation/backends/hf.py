"""transformers backend: a causal LM from the Hub or a folder, with LoRA adapters kept unmerged.

Why adapters unmerged over ONE base: evaluating a base model and N fine-tuned adapters by
loading N merged copies costs N loads and N times the memory; peft can hold several adapters
on one base and switch between them (``set_adapter``), and ``disable_adapter()`` gives the
bare base. Unmerged also means exactly the weights that were trained are evaluated.

Log-likelihood follows lm-evaluation-harness exactly (same tokenisation of context and
continuation, same left truncation, argmax of summed log-probabilities), so numbers are
comparable. When the continuations of a question differ only in their last token after the
same context (letters after "Answer:", or "\\nA" ... "\\nD" after a chat template's
"assistant\\n", whose newline lm-eval moves into the continuation), one forward pass scores all
options at once instead of one pass per option: each option's input would be the same tokens.
That is where most of the speed comes from.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from bioinstruct.argparsing import check_model_argument
from bioinstruct.errors import ConfigError, DataError
from bioinstruct.evaluation.backends import Progress, adapter_labels, cut_at_stop, sample_seed
from bioinstruct.evaluation.backends.base import TokenizerBackend
from bioinstruct.evaluation.prompting import Prompt
from bioinstruct.models import resolve_model
from bioinstruct.threads import configure_cpu_threads

logger = logging.getLogger(__name__)

_DTYPES = {
    "float32": "float32",
    "fp32": "float32",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float16": "float16",
    "fp16": "float16",
}


@dataclass
class _Job:
    """One forward pass: input ids and the (continuation ids, request, choice) it scores.

    Every target of a job has the same length and is read from the job's last positions;
    several targets share a job only when their inputs would be identical.
    """

    ids: list[int]
    targets: list[tuple[list[int], int, int]]


def _resolve_device(device: str | None) -> str:
    import torch

    if device in (None, "auto"):
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available() else "cpu"
    return device


class HFBackend(TokenizerBackend):
    """Batched scoring and generation with a transformers causal LM (+ peft adapters)."""

    def __init__(
        self,
        model: str,
        *,
        adapters: Sequence[str] | None = None,
        dtype: str = "auto",
        device: str | None = "auto",
        batch_size: int = 8,
        max_length: int | None = None,
        trust_remote_code: bool = False,
        revision: str | None = None,
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        super().__init__(model, adapter_labels(adapters))
        check_model_argument(self.model_name, "model")  # not transformers' "Repo id must be in the form"
        for _label, path in adapter_labels(adapters):  # before minutes of loading the base model
            check_model_argument(path, "adapter")
        model = resolve_model(self.model_name)  # a .gguf file or "smollm2" -> a local HF folder
        self.batch_size = batch_size
        self.device = _resolve_device(device)
        # CPU: torch's threads = the CPUs this process may use / local ranks, unless OMP_NUM_THREADS is set.
        self.cpu_threads = configure_cpu_threads(self.device)
        if dtype == "auto":
            torch_dtype: Any = torch.float32 if self.device == "cpu" else "auto"
        elif dtype in _DTYPES:
            torch_dtype = getattr(torch, _DTYPES[dtype])
        else:
            raise ConfigError(f"unknown dtype {dtype!r}; expected auto, {', '.join(sorted(_DTYPES))}")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(
                model, revision=revision, trust_remote_code=trust_remote_code
            )
            base = AutoModelForCausalLM.from_pretrained(
                model, dtype=torch_dtype, revision=revision, trust_remote_code=trust_remote_code
            )
        except (OSError, ValueError) as err:
            raise DataError(
                f"cannot load model {model!r} ({type(err).__name__}: {str(err).splitlines()[0][:200]}); pass a local "
                "folder with config.json and weights, or a Hub id (needs network unless cached)"
            ) from err
        if self.tokenizer.pad_token_id is None:  # inference only: padding is masked out
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = self._attach_adapters(base).to(self.device).eval()
        config = base.config
        self.max_length = max_length or next(
            (
                getattr(config, attr)
                for attr in ("max_position_embeddings", "n_positions", "n_ctx")
                if isinstance(getattr(config, attr, None), int)
            ),
            2048,
        )
        self._keeps_logits = "logits_to_keep" in inspect.signature(base.forward).parameters
        self.dtype = str(next(base.parameters()).dtype).replace("torch.", "")

    def _attach_adapters(self, base: Any) -> Any:
        if not self.adapters:
            return base
        from peft import PeftModel

        first_label, first_path = self.adapters[0]
        try:
            model = PeftModel.from_pretrained(base, first_path, adapter_name=first_label, is_trainable=False)
            for label, path in self.adapters[1:]:
                model.load_adapter(path, adapter_name=label, is_trainable=False)
        except (OSError, ValueError) as err:
            raise DataError(
                f"cannot load LoRA adapter ({type(err).__name__}: {str(err).splitlines()[0][:200]}); "
                "pass the folder holding adapter_config.json"
            ) from err
        return model

    # -- Backend interface ------------------------------------------------------------------
    def set_variant(self, adapter: str | None) -> None:
        super().set_variant(adapter)
        if adapter is not None:
            self.model.set_adapter(adapter)

    @contextlib.contextmanager
    def _variant(self) -> Iterator[None]:
        import torch

        with torch.inference_mode():
            if self.adapters and self.active is None:
                with self.model.disable_adapter():
                    yield
            else:
                yield

    def info(self) -> dict[str, Any]:
        return {
            "backend": "hf",
            "dtype": self.dtype,
            "device": self.device,
            "max_length": self.max_length,
            "batch_size": self.batch_size,
            **super().info(),
            "cpu_threads": self.cpu_threads,
        }

    #: ``[cut, total]`` while a caller (the evaluator, per benchmark) collects the truncation
    #: counts to report once; None: each call says it itself.
    truncation_counts: list[int] | None = None

    def truncation_message(self, cut: int, total: int) -> str:
        return (
            f"{cut} of {total} prompts are longer than the model's {self.max_length} tokens and were cut "
            "from the left (their beginning, e.g. the instruction or a demonstration, was not seen)"
        )

    def _warn_truncated(self, cut: int, total: int) -> None:
        """Say when prompts were cut from the left to fit the model (as lm-eval does, silently)."""
        if self.truncation_counts is not None:
            self.truncation_counts[0] += cut
            self.truncation_counts[1] += total
        elif cut:
            logger.warning("%s", self.truncation_message(cut, total))

    def loglikelihood(
        self, requests: Sequence[tuple[str, Sequence[str]]], progress: Progress = None
    ) -> list[list[float]]:
        jobs: list[_Job] = []
        for r, (context, continuations) in enumerate(requests):
            context_ids = self.encode(context.rstrip()) if context.strip() else None  # shared by all options
            pairs = [self.encode_pair(context, cont, context_ids) for cont in continuations]
            for c, (_, cont) in enumerate(pairs):
                if not cont:
                    raise DataError(f"continuation {continuations[c]!r} encodes to no tokens")
            inputs = [(ctx + cont)[-(self.max_length + 1) :][:-1] for ctx, cont in pairs]  # lm-eval's
            targets = [(cont, r, c) for c, (_, cont) in enumerate(pairs)]
            lengths = {len(cont) for _, cont in pairs}
            if len(lengths) == 1 and all(ids == inputs[0] for ids in inputs):
                jobs.append(_Job(inputs[0], targets))  # one pass: every option's input is these tokens
            else:
                jobs += [_Job(ids, [target]) for ids, target in zip(inputs, targets, strict=True)]
        self._warn_truncated(
            sum(len(self.encode(context)) > self.max_length for context, _ in requests), len(requests)
        )
        results = [[0.0] * len(continuations) for _, continuations in requests]
        order = sorted(range(len(jobs)), key=lambda j: -len(jobs[j].ids))
        for start in range(0, len(order), self.batch_size):
            batch = [jobs[j] for j in order[start : start + self.batch_size]]
            for job, scores in zip(batch, self._score_batch(batch), strict=True):
                for (_, r, c), score in zip(job.targets, scores, strict=True):
                    results[r][c] = score
            if progress:  # a request counts as done with the job holding its first option
                progress(sum(1 for job in batch if job.targets[0][2] == 0))
        return results

    def _score_batch(self, batch: list[_Job]) -> list[list[float]]:
        import torch

        lengths = [len(job.ids) for job in batch]
        width = max(lengths)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.tensor(
            [job.ids + [pad] * (width - len(job.ids)) for job in batch], device=self.device
        )
        # Positions whose next-token distribution is needed (right padding: real tokens first).
        spans = [(n - len(job.targets[0][0]), n) for n, job in zip(lengths, batch, strict=True)]
        first = min(lo for lo, _ in spans)
        kwargs: dict[str, Any] = {"logits_to_keep": width - first} if self._keeps_logits else {}
        with self._variant():
            # No attention mask, as lm-eval: with right padding a causal model never lets a real
            # token see a pad, and without a mask attention takes the fast causal kernel.
            logits = self.model(input_ids=input_ids, **kwargs).logits
        offset = width - logits.shape[1]
        scores: list[list[float]] = []
        for row, ((lo, hi), job) in enumerate(zip(spans, batch, strict=True)):
            logprobs = torch.log_softmax(logits[row, lo - offset : hi - offset].float(), dim=-1)
            scores.append(
                [
                    float(logprobs.gather(1, torch.tensor(cont, device=logprobs.device)[:, None]).sum())
                    for cont, _, _ in job.targets
                ]
            )
        return scores

    def generate(
        self,
        prompts: Sequence[Prompt],
        *,
        max_new_tokens: int,
        stop: Sequence[str] = (),
        progress: Progress = None,
    ) -> list[str]:

        texts = [self.prompt_text(prompt) for prompt in prompts]
        room = max(1, self.max_length - max_new_tokens)
        full = [self.encode(text) for text in texts]
        self._warn_truncated(sum(len(ids) > room for ids in full), len(texts))
        encoded = [ids[-room:] for ids in full]
        order = sorted(range(len(texts)), key=lambda i: -len(encoded[i]))
        outputs = [""] * len(texts)
        pad = self.tokenizer.pad_token_id
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            batch = self.tokenizer.pad(
                {"input_ids": [encoded[i] for i in chunk]}, padding_side="left", return_tensors="pt"
            ).to(self.device)
            width = batch["input_ids"].shape[1]
            with self._variant():
                generated = self.model.generate(
                    **batch,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    pad_token_id=pad,
                    # a row that wrote a stop string is done (not run on to max_new_tokens)
                    stop_strings=list(stop) or None,
                    tokenizer=self.tokenizer if stop else None,
                )
            for row, i in enumerate(chunk):
                text = self.tokenizer.decode(generated[row, width:], skip_special_tokens=True)
                outputs[i] = cut_at_stop(text, stop).strip()
            if progress:
                progress(len(chunk))
        return outputs

    def sample(
        self,
        prompts: Sequence[Prompt],
        *,
        n: int,
        temperature: float,
        max_new_tokens: int,
        stop: Sequence[str] = (),
        seed: int = 0,
        progress: Progress = None,
    ) -> list[list[str]]:
        """``n`` replies per prompt by plain temperature sampling (top-p 1, no top-k), for
        self-consistency. One prompt's ``n`` replies are one batch, seeded from the prompt
        (:func:`sample_seed`), so an item's replies never depend on its neighbours."""
        import torch

        room = max(1, self.max_length - max_new_tokens)
        full = [self.encode(self.prompt_text(prompt)) for prompt in prompts]
        self._warn_truncated(sum(len(ids) > room for ids in full), len(prompts))
        outputs: list[list[str]] = []
        for prompt, ids in zip(prompts, full, strict=True):
            torch.manual_seed(sample_seed(seed, self.prompt_text(prompt)))
            input_ids = torch.tensor([ids[-room:]], device=self.device)
            with self._variant():
                generated = self.model.generate(
                    input_ids=input_ids,
                    attention_mask=torch.ones_like(input_ids),
                    max_new_tokens=max_new_tokens,
                    do_sample=True,
                    temperature=temperature,
                    top_p=1.0,
                    top_k=0,
                    num_return_sequences=n,
                    pad_token_id=self.tokenizer.pad_token_id,
                    stop_strings=list(stop) or None,
                    tokenizer=self.tokenizer if stop else None,
                )
            width = input_ids.shape[1]
            outputs.append(
                [
                    cut_at_stop(self.tokenizer.decode(row[width:], skip_special_tokens=True), stop).strip()
                    for row in generated
                ]
            )
            if progress:
                progress(1)
        return outputs

    def close(self) -> None:
        import torch

        del self.model
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
