"""vLLM backend (optional, GPU): fast batched generation and scoring, LoRA adapters per request.

Why optional and import-guarded: vLLM needs a CUDA build and pins its own torch; it must never
be a dependency of the core. When it is installed, adapters stay unmerged (``LoRARequest``
per adapter over one engine), like the ``hf`` backend. Log-likelihoods come from vLLM's
prompt log-probabilities of ``context + continuation``, tokenised as lm-eval does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bioinstruct.errors import ConfigError
from bioinstruct.evaluation.backends import Progress, adapter_labels, cut_at_stop, sample_seed
from bioinstruct.evaluation.backends.base import TokenizerBackend
from bioinstruct.evaluation.prompting import Prompt

INSTALL_HINT = (
    "the vllm backend needs vLLM, which is not installed: `pip install vllm` on a machine with a CUDA GPU "
    "(it brings its own torch build); or use --backend hf"
)


class VLLMBackend(TokenizerBackend):
    """Greedy generation and prompt-logprob scoring with one vLLM engine."""

    def __init__(
        self,
        model: str,
        *,
        adapters: Sequence[str] | None = None,
        dtype: str = "auto",
        max_length: int | None = None,
        gpu_memory_utilization: float = 0.9,
        max_lora_rank: int = 64,
        trust_remote_code: bool = False,
        **engine_options: Any,
    ) -> None:
        try:
            import vllm
        except ImportError as err:
            raise ConfigError(INSTALL_HINT) from err
        super().__init__(model, adapter_labels(adapters))
        self._vllm = vllm
        self.llm = vllm.LLM(
            model=model,
            dtype=dtype,
            max_model_len=max_length,
            enable_lora=bool(self.adapters),
            max_lora_rank=max_lora_rank,
            gpu_memory_utilization=gpu_memory_utilization,
            trust_remote_code=trust_remote_code,
            **engine_options,
        )
        self.tokenizer = self.llm.get_tokenizer()
        self._lora: dict[str, Any] = {}
        if self.adapters:
            from vllm.lora.request import LoRARequest

            self._lora = {
                label: LoRARequest(label, i + 1, path) for i, (label, path) in enumerate(self.adapters)
            }

    def loglikelihood(
        self, requests: Sequence[tuple[str, Sequence[str]]], progress: Progress = None
    ) -> list[list[float]]:
        params = self._vllm.SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0)
        flat, spans = [], []
        for context, continuations in requests:
            for continuation in continuations:
                ctx, cont = self.encode_pair(context, continuation)
                flat.append({"prompt_token_ids": ctx + cont})
                spans.append((len(ctx), ctx + cont))
        outputs = self.llm.generate(flat, params, lora_request=self._lora.get(self.active), use_tqdm=False)
        scores = []
        for (start, ids), output in zip(spans, outputs, strict=True):
            logprobs = output.prompt_logprobs
            scores.append(sum(logprobs[i][ids[i]].logprob for i in range(start, len(ids))))
        results, k = [], 0
        for _, continuations in requests:
            results.append(scores[k : k + len(continuations)])
            k += len(continuations)
        if progress:
            progress(len(requests))
        return results

    def generate(
        self,
        prompts: Sequence[Prompt],
        *,
        max_new_tokens: int,
        stop: Sequence[str] = (),
        progress: Progress = None,
    ) -> list[str]:
        params = self._vllm.SamplingParams(
            max_tokens=max_new_tokens, temperature=0.0, stop=list(stop) or None
        )
        texts = [self.prompt_text(prompt) for prompt in prompts]
        outputs = self.llm.generate(texts, params, lora_request=self._lora.get(self.active), use_tqdm=False)
        if progress:
            progress(len(prompts))
        return [cut_at_stop(output.outputs[0].text, stop).strip() for output in outputs]

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
        """``n`` replies per prompt by temperature sampling (top-p 1, no top-k), one seed per prompt."""
        texts = [self.prompt_text(prompt) for prompt in prompts]
        params = [
            self._vllm.SamplingParams(
                n=n,
                temperature=temperature,
                top_p=1.0,  # and vLLM's default top-k: none
                max_tokens=max_new_tokens,
                stop=list(stop) or None,
                seed=sample_seed(seed, text),
            )
            for text in texts
        ]
        outputs = self.llm.generate(texts, params, lora_request=self._lora.get(self.active), use_tqdm=False)
        if progress:
            progress(len(prompts))
        return [[cut_at_stop(choice.text, stop).strip() for choice in output.outputs] for output in outputs]

    def info(self) -> dict[str, Any]:
        return {
            "backend": "vllm",
            "vllm_version": getattr(self._vllm, "__version__", "?"),
            **super().info(),
        }

    def close(self) -> None:
        del self.llm
