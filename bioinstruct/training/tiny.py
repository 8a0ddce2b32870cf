"""Build a tiny, randomly initialised Llama and a locally trained tokenizer.

Why: nothing can be downloaded at test time, yet the tests, the quickstart and users
dry-running a recipe need a model folder that ``AutoModelForCausalLM`` / ``AutoTokenizer``
load exactly like a Hub checkpoint, through the same code as a 7B model. A byte-level BPE
tokenizer is trained in a second on a small built-in biomedical corpus (byte-level, so any
text encodes), with distinct ``<pad>``/``</s>`` tokens (the pad == eos trap is a pre-flight
error, not something the kit should demonstrate) and a chat template whose assistant turn is
wrapped in ``{% generation %}`` markers, so TRL's ``assistant_only_loss`` works with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|assistant|>\n' }}{% generation %}{{ message['content'] }}{{ eos_token }}{% endgeneration %}{{ '\n' }}"
    "{% else %}"
    "{{ '<|' + message['role'] + '|>\n' + message['content'] + '\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)

_CORPUS = [
    "Below is an instruction that describes a task, paired with an input that provides further context.",
    "Write a response that appropriately completes the request.",
    "### Instruction:",
    "### Input:",
    "### Output:",
    "### Response:",
    "Summarize the patient's consumer health question in one sentence.",
    "Extract every medication, dose and frequency mentioned in the discharge note.",
    "The patient is a 54-year-old man with type 2 diabetes mellitus and hypertension.",
    "Metformin 500 mg twice daily; lisinopril 10 mg once daily; atorvastatin 40 mg at night.",
    "Question: Does aspirin reduce the risk of myocardial infarction? Answer yes, no or maybe.",
    "A. Hypothyroidism B. Hyperthyroidism C. Cushing syndrome D. Addison disease",
    "Answer: The answer is B. Entailment, contradiction or neutral.",
    "Chemicals: none. Diseases: acute kidney injury, sepsis, pneumonia.",
    "TNF-α and IL-6 drive β-cell apoptosis; HbA1c 7.2%; eGFR 45 mL/min/1.73 m².",
    "Doctor: What brings you in today? Patient: I have had a cough and fever for three days.",
    "Randomized controlled trial of 1,204 adults; hazard ratio 0.82 (95% CI 0.71-0.95).",
    "0 1 2 3 4 5 6 7 8 9 yes no maybe true false QA IE GEN OTHER",
]

SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<pad>", "<|user|>", "<|assistant|>", "<|system|>"]


def build_tiny_tokenizer(
    path: str | Path | None = None, vocab_size: int = 512, corpus: Iterable[str] | None = None
):
    """Train a byte-level BPE tokenizer locally and return a ``PreTrainedTokenizerFast``.

    ``corpus`` defaults to a few built-in biomedical sentences; the byte-level alphabet means
    every string still encodes. Saved to ``path`` when given.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE(unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(list(corpus) if corpus is not None else _CORPUS * 4, trainer=trainer)
    # Like LLaMA tokenizers: BOS is prepended to every encoded text (not by the chat template's
    # tokenization, which passes add_special_tokens=False).
    bos_id = backend.token_to_id("<s>")
    backend.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bos_id)]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        model_max_length=2048,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    if path is not None:
        tokenizer.save_pretrained(str(path))
    return tokenizer


def build_tiny_llama(
    path: str | Path,
    *,
    hidden_size: int = 64,
    num_hidden_layers: int = 2,
    num_attention_heads: int = 4,
    num_key_value_heads: int = 2,
    intermediate_size: int = 128,
    vocab_size: int = 512,
    max_position_embeddings: int = 1024,
    seed: int = 0,
    corpus: Iterable[str] | None = None,
) -> Path:
    """Write a randomly initialised ``LlamaForCausalLM`` and its tokenizer to ``path``.

    The defaults give ~100k parameters (a few hundred KB in float32). Pass larger sizes for a
    model with a few million parameters (benchmarks). Returns ``path``; load it with
    ``AutoModelForCausalLM.from_pretrained(path)`` and ``AutoTokenizer.from_pretrained(path)``.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tiny_tokenizer(path, vocab_size=vocab_size, corpus=corpus)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=num_attention_heads,
        num_key_value_heads=num_key_value_heads,
        max_position_embeddings=max_position_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(str(path))
    return path
