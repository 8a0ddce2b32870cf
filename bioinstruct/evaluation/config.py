"""``EvaluateConfig``: every option of ``bioinstruct evaluate``, one field each.

Why a dataclass: the flags, a ``--config evaluate.yaml`` file and the ``evaluate.yaml`` every run
writes into its output folder are the same fields (:func:`bioinstruct.argparsing.add_config_arguments`),
so an evaluation is saved and rerun as one YAML file. The field's ``help`` is the flag's help.

API keys are never fields: the endpoint's and the judge's key come from OPENAI_API_KEY.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar


@dataclass(kw_only=True)
class EvaluateConfig:
    """The options of ``bioinstruct evaluate`` (``bioinstruct evaluate --help``)."""

    #: The effective configuration a run writes into its output folder.
    CONFIG_FILE: ClassVar[str] = "evaluate.yaml"

    model: str = field(
        metadata={
            "help": "Hub id or local folder of the base model (or the served model name for --backend openai)."
        }
    )
    adapter: list[str] | None = field(
        default=None,
        metadata={
            "help": "LoRA adapter folder to evaluate over the same base, unmerged; repeat for several. "
            "The bare base is always evaluated too.",
            "metavar": "[LABEL=]PATH",
        },
    )
    benchmarks: str = field(
        metadata={
            "help": "Comma-separated benchmark names and/or groups (qa, nli, ie, gen, paper); see "
            "`bioinstruct benchmarks`."
        }
    )
    include_path: list[str] | None = field(
        default=None,
        metadata={
            "help": "A benchmark declaration YAML file, or a folder of them, to register before the run "
            "(as lm-eval's --include_path); repeat for several. See bioinstruct/benchmarks/tasks/ for the format.",
            "metavar": "PATH",
        },
    )
    backend: str = field(
        default="hf",
        metadata={
            "help": "hf: transformers + peft (default); openai: any OpenAI-compatible endpoint (generative "
            "only); vllm: optional, GPU.",
            "choices": ["hf", "openai", "vllm"],
        },
    )
    data_file: list[str] | None = field(
        default=None,
        metadata={
            "help": "Local data for a benchmark in its Hub schema (required for bioasq and mednli); repeat "
            "per benchmark.",
            "metavar": "NAME=PATH",
        },
    )
    fewshot_file: list[str] | None = field(
        default=None,
        metadata={
            "help": "Rows to draw few-shot demonstrations from instead of the benchmark's train split.",
            "metavar": "NAME=PATH",
        },
    )
    limit: int | None = field(
        default=None, metadata={"help": "Score only the first N items of each benchmark (smoke tests)."}
    )
    protocol: str | None = field(
        default=None,
        metadata={
            "help": "Multiple choice: loglik (log-likelihood over the options; the default where the backend "
            "supports it), generate (a short answer parsed to a choice), cot (zero-shot chain of thought, "
            "the final 'Answer: X' extracted by a stated rule), a comma list run in one call (loglik,cot: "
            "the report shows the gap), or all. Generation benchmarks are always generative.",
            "metavar": "PROTOCOL[,PROTOCOL]",
        },
    )
    cot_max_new_tokens: int = field(
        default=512, metadata={"help": "--protocol cot: the reasoning budget, new tokens per reply."}
    )
    cot_samples: int = field(
        default=1,
        metadata={
            "help": "--protocol cot: 1 = one greedy reply; k > 1 = self-consistency, k sampled replies and "
            "a majority vote over their parseable answers (ties: the first in sample order)."
        },
    )
    cot_temperature: float = field(
        default=0.7, metadata={"help": "--protocol cot with --cot-samples > 1: the sampling temperature."}
    )
    cot_template: str = field(
        default="auto",
        metadata={
            "help": "--protocol cot: the prompt template; auto = the model's chat template where it has one "
            "(and always chat messages for --backend openai), else --template."
        },
    )
    num_fewshot: int | None = field(
        default=None,
        metadata={
            "help": "Demonstrations per prompt (default: the benchmark's own, 0 for QA as in the paper)."
        },
    )
    template: str = field(
        default="bioinstruct",
        metadata={
            "help": "Prompt template: bioinstruct (paper), alpaca, plain (lm-eval layout) or chat (the "
            "model's chat template)."
        },
    )
    seed: int = field(
        default=0,
        metadata={
            "help": "Seed for drawing few-shot demonstrations, for CoT sampling (--cot-samples > 1) and for "
            "bootstrap intervals."
        },
    )
    output_dir: str = field(
        default="runs/eval",
        metadata={
            "help": "Where results.json, results.md, samples/, the prediction cache and evaluate.yaml go."
        },
    )
    no_cache: bool = field(default=False, metadata={"help": "Do not read or write the prediction cache."})
    batch_size: int = field(default=8, metadata={"help": "hf backend: prompts per forward pass."})
    dtype: str = field(default="auto", metadata={"help": "hf backend: auto, float32, bfloat16 or float16."})
    device: str = field(default="auto", metadata={"help": "hf backend: auto, cpu, cuda, cuda:1, mps."})
    tensor_parallel_size: int = field(
        default=1,
        metadata={"help": "vllm backend: GPUs one model is split over (vLLM's tensor_parallel_size)."},
    )
    base_url: str | None = field(
        default=None,
        metadata={
            "help": "openai backend: endpoint URL (default: OPENAI_BASE_URL). The key is read from "
            "OPENAI_API_KEY."
        },
    )
    max_concurrency: int = field(
        default=8, metadata={"help": "openai backend and judge: requests in flight."}
    )
    requests_per_minute: float | None = field(
        default=None, metadata={"help": "openai backend and judge: pace requests (each its own)."}
    )
    max_cost_usd: float | None = field(
        default=None,
        metadata={
            "help": "openai backend and judge: hard spending cap of each for this run (the judge's own: "
            "--judge-max-cost-usd)."
        },
    )
    timeout: float = field(
        default=120.0,
        metadata={
            "help": "openai backend and judge: seconds to wait for one reply (a small model on a busy CPU "
            "server may need several minutes)."
        },
    )
    bertscore_model: str | None = field(
        default=None,
        metadata={
            "help": "Local folder (or Hub id) of the BERTScore model for generation benchmarks; needs "
            "`pip install bioinstruct[bertscore]`. Off by default (default: BIOINSTRUCT_BERTSCORE_MODEL)."
        },
    )
    bertscore_layers: int | None = field(
        default=None,
        metadata={
            "help": "Layer of the BERTScore model whose embeddings are compared (default: bert-score's choice)."
        },
    )
    judge_model: str | None = field(
        default=None,
        metadata={"help": "LLM judge (e.g. gpt-4) for benchmarks with judge axes (generation sets)."},
    )
    judge_base_url: str | None = field(
        default=None,
        metadata={
            "help": "Endpoint of the judge (default: --base-url, then OPENAI_BASE_URL; never api.openai.com "
            "unless named here). The key is read from OPENAI_API_KEY."
        },
    )
    judge_max_cost_usd: float | None = field(
        default=None,
        metadata={
            "help": "The judge's hard spending cap (default: --max-cost-usd); it stops judging, with the "
            "unjudged items counted, when the next request could pass it."
        },
    )

    def __post_init__(self) -> None:
        """A bad --protocol or --cot-* value is one line before anything loads (the evaluator checks again)."""
        from bioinstruct.evaluation.cot import check_settings
        from bioinstruct.evaluation.protocols import parse_protocols

        parse_protocols(self.protocol)
        check_settings(self.cot_max_new_tokens, self.cot_samples, self.cot_temperature, self.cot_template)
        if self.tensor_parallel_size < 1:
            from bioinstruct.errors import ConfigError

            raise ConfigError(
                f"tensor_parallel_size={self.tensor_parallel_size} must be at least 1 (GPUs per model)"
            )


__all__ = ["EvaluateConfig"]
