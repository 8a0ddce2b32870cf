"""Peak GPU memory of a LoRA/QLoRA (or full) SFT run, from the model's config alone.

Why: an out-of-memory error comes minutes into a launch (after the weights loaded, at the
first backward); the numbers that decide it are all in ``config.json`` and the recipe.

Model: a Llama/Mistral/Qwen-style decoder (``hidden_size``, ``intermediate_size``,
``num_hidden_layers``, ``num_attention_heads``, ``num_key_value_heads``, ``head_dim``,
``vocab_size``, ``tie_word_embeddings``): per layer q/k/v/o projections (k, v of GQA width),
a SwiGLU MLP (gate, up, down) and two RMSNorms; embeddings, a final norm and an lm_head unless
tied. Other architectures (MoE, GeLU MLPs, parallel blocks) are estimated as if they were this.

Parts, in bytes per GPU:

* weights: frozen base, ``dtype`` bytes/param; QLoRA stores the linear layers at 0.5 byte/param
  plus one fp32 absmax per 64 weights (0.0625 B/param; 8-bit absmax + fp32 per 256 blocks,
  0.016 B/param, with nested quantisation), embeddings/lm_head/norms stay in ``dtype``.
* trainable: LoRA adds r x (in + out) per targeted linear, kept in fp32 (PEFT autocasts
  adapters): 4 B params + 4 B grads + 8 B Adam moments = 16 B/param. Full fine-tuning: params and
  grads in ``dtype``, optimizer 8 B moments + a 4 B fp32 master copy when ``dtype`` is 16-bit.
* activations: Korthikanti et al. 2022 ("Reducing activation recomputation"), 16-bit, no
  checkpointing: ``s*b*h*(34 + 5*a*s/h)`` bytes per layer for a 4h GeLU MLP. For SwiGLU the MLP's
  ``16*s*b*h`` becomes ``8*s*b*i`` (gate, up, SiLU(gate), product), so ``s*b*h*(18 + 8*i/h)`` plus
  ``5*a*s^2*b`` for eager attention only (flash/sdpa never store the s x s scores). LoRA dropout
  (> 0) keeps a dropped copy and a mask of every adapted input: ``3*s*b*in`` per target. Full
  checkpointing keeps ``2*s*b*h`` per layer (its input) plus one layer recomputed in backward.
* logits: ``s * vocab * b * 4`` (fp32 for the loss), usually the largest transient.
* ZeRO (DeepSpeed over ``num_gpus``): stage 1 divides the optimizer states, stage 2 also the
  grads, stage 3 also the weights, plus two gathered layers (the current and the prefetched one).
* overhead: a constant :data:`OVERHEAD_BYTES` (CUDA context, cuBLAS/NCCL workspaces, allocator
  fragmentation).

Expected error: the static parts (weights, trainable states) are exact to a few percent; the
activations within about +-30% (PyTorch frees or keeps some tensors differently, GQA's smaller
k/v is not subtracted, packing and padding change ``s``), so expect the total within about 15%
of ``torch.cuda.max_memory_allocated`` + the context. Treat a margin under 10% as "may not fit".
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

GIB = 2**30
#: CUDA context (~0.5 GiB) + cuBLAS/NCCL workspaces and allocator fragmentation (~0.5 GiB).
OVERHEAD_BYTES = 1 * GIB
ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
PEFT_LLAMA_DEFAULT = ("q_proj", "v_proj")  # PEFT's targets for Llama when none are given
DTYPE_BYTES = {"float32": 4, "fp32": 4, "bfloat16": 2, "bf16": 2, "float16": 2, "fp16": 2, "half": 2}


def _get(config: Any, name: str, default: Any = None) -> Any:
    if isinstance(config, dict):
        return config.get(name, default)
    return getattr(config, name, default)


@dataclass(frozen=True)
class DecoderShape:
    """The parameter shape of a Llama-style decoder, read from a config object or dict."""

    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    tied: bool
    qkv_bias: bool = False
    o_bias: bool = False

    @classmethod
    def from_config(cls, config: Any) -> DecoderShape:
        config = _get(config, "text_config") or config  # multimodal wrappers: the language model
        hidden, heads = int(_get(config, "hidden_size")), int(_get(config, "num_attention_heads"))
        attention_bias = bool(_get(config, "attention_bias", False))
        return cls(
            hidden=hidden,
            intermediate=int(_get(config, "intermediate_size")),
            layers=int(_get(config, "num_hidden_layers")),
            heads=heads,
            kv_heads=int(_get(config, "num_key_value_heads") or heads),
            head_dim=int(_get(config, "head_dim") or hidden // heads),
            vocab=int(_get(config, "vocab_size")),
            tied=bool(_get(config, "tie_word_embeddings", False)),
            qkv_bias=attention_bias or _get(config, "model_type") == "qwen2",
            o_bias=attention_bias,
        )

    def linears(self) -> dict[str, tuple[int, int]]:
        """(in_features, out_features) of each linear in one decoder layer."""
        q, kv = self.heads * self.head_dim, self.kv_heads * self.head_dim
        h, i = self.hidden, self.intermediate
        return {
            "q_proj": (h, q),
            "k_proj": (h, kv),
            "v_proj": (h, kv),
            "o_proj": (q, h),
            "gate_proj": (h, i),
            "up_proj": (h, i),
            "down_proj": (i, h),
        }

    def linear_params(self) -> int:
        """Weights (and biases) of all decoder-layer linears: what QLoRA quantises."""
        weights = sum(n_in * n_out for n_in, n_out in self.linears().values())
        q, kv = self.heads * self.head_dim, self.kv_heads * self.head_dim
        biases = (q + 2 * kv) * self.qkv_bias + self.hidden * self.o_bias
        return self.layers * (weights + biases)

    def other_params(self) -> int:
        """Embeddings, lm_head (unless tied) and the RMSNorm weights: kept in ``dtype`` under QLoRA."""
        embeddings = self.vocab * self.hidden * (1 if self.tied else 2)
        return embeddings + self.hidden * (2 * self.layers + 1)

    def total_params(self) -> int:
        return self.linear_params() + self.other_params()


def count_parameters(config: Any) -> int:
    """Parameters of the model ``config`` describes (Llama-2-7B: 6,738,415,616)."""
    return DecoderShape.from_config(config).total_params()


def target_names(targets: Any) -> tuple[str, ...]:
    """``all-linear`` / a list of names / None (PEFT's Llama default) -> the adapted linear names."""
    if targets is None or targets == []:
        return PEFT_LLAMA_DEFAULT
    names = [targets] if isinstance(targets, str) else list(targets)
    if "all-linear" in names:
        return ALL_LINEAR
    return tuple(name for name in ALL_LINEAR if name in names)


def lora_parameters(config: Any, r: int, targets: Any = "all-linear") -> int:
    """LoRA's trainable parameters: r x (in + out) per targeted linear per layer."""
    shape = DecoderShape.from_config(config)
    chosen = target_names(targets)
    return shape.layers * sum(
        r * (n_in + n_out) for name, (n_in, n_out) in shape.linears().items() if name in chosen
    )


@dataclass(frozen=True)
class MemoryEstimate:
    """Peak bytes per GPU by part; :attr:`total` is their sum. ``settings``: the inputs, to re-estimate."""

    weights: int
    zero3_gather: int
    trainable_params: int
    grads: int
    optimizer: int
    activations: int
    logits: int
    overhead: int
    parameters: int
    trainable: int
    settings: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False)

    @property
    def total(self) -> int:
        parts = (self.weights, self.zero3_gather, self.trainable_params, self.grads, self.optimizer)
        return sum(parts) + self.activations + self.logits + self.overhead

    def with_changes(self, **changes: Any) -> MemoryEstimate:
        """The estimate with some inputs changed (``load_in_4bit=True``, ``zero_stage=3`` ...)."""
        settings = dict(self.settings)
        config = settings.pop("model_config")
        settings.update(changes)
        return estimate_memory(config, **settings)


def estimate_memory(
    model_config: Any,
    *,
    lora_r: int | None,
    lora_targets: Any = "all-linear",
    load_in_4bit: bool = False,
    dtype: Any = "bfloat16",
    seq_len: int = 1024,
    micro_batch: int = 4,
    gradient_checkpointing: bool = True,
    zero_stage: int | None = None,
    num_gpus: int = 1,
    load_in_8bit: bool = False,
    nested_quant: bool = False,
    lora_dropout: float = 0.0,
    attn_implementation: str | None = None,
) -> MemoryEstimate:
    """Peak GPU memory per GPU of one training step (see the module docstring for the formulas).

    ``lora_r=None`` is full fine-tuning; ``zero_stage`` None or 0 is no ZeRO; ``attn_implementation``
    None is transformers' default (sdpa)."""
    settings = {key: value for key, value in locals().items()}
    shape = DecoderShape.from_config(model_config)
    width = DTYPE_BYTES.get(str(dtype or "float32").replace("torch.", "").lower(), 4)
    stage, gpus = int(zero_stage or 0), max(int(num_gpus or 1), 1)
    s, b, h, i = int(seq_len), int(micro_batch), shape.hidden, shape.intermediate
    total = shape.total_params()

    if load_in_4bit or load_in_8bit:
        quant = (
            (0.5 + (1 / 64 + 4 / (64 * 256) if nested_quant else 4 / 64)) if load_in_4bit else 1 + 4 / 4096
        )
        weights = math.ceil(shape.linear_params() * quant) + shape.other_params() * width
    else:
        weights = total * width
    layer_weights = (shape.linear_params() // shape.layers) * width

    if lora_r:
        trainable = lora_parameters(model_config, lora_r, lora_targets)
        params, grads, optimizer = 4 * trainable, 4 * trainable, 8 * trainable
    else:
        trainable, weights = total, 0
        params, grads = total * width, total * width
        optimizer = total * (8 + (4 if width == 2 else 0))
    divide = (lambda value: math.ceil(value / gpus)) if stage else (lambda value: value)
    if stage >= 3:
        weights, params = divide(weights), divide(params)
    grads = divide(grads) if stage >= 2 else grads
    optimizer = divide(optimizer)
    gather = 2 * layer_weights if stage >= 3 and gpus > 1 else 0

    per_layer = s * b * h * (18 + 8 * i / h)
    if attn_implementation == "eager":
        per_layer += 5 * shape.heads * s * s * b
    if lora_r and lora_dropout:
        chosen = target_names(lora_targets)
        per_layer += 3 * s * b * sum(n_in for name, (n_in, _) in shape.linears().items() if name in chosen)
    if gradient_checkpointing:
        activations = shape.layers * 2 * s * b * h + per_layer
    else:
        activations = shape.layers * per_layer
    logits = s * shape.vocab * b * 4
    return MemoryEstimate(
        weights=int(weights),
        zero3_gather=int(gather),
        trainable_params=int(params),
        grads=int(grads),
        optimizer=int(optimizer),
        activations=math.ceil(activations),
        logits=int(logits),
        overhead=OVERHEAD_BYTES,
        parameters=total,
        trainable=trainable,
        settings=settings,
    )
