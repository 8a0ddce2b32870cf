"""The tiny-model kit builds a real, loadable Llama folder of a few hundred KB."""

from pathlib import Path

from transformers import AutoModelForCausalLM, AutoTokenizer


def test_tiny_llama_loads_with_auto_classes(tiny_model_dir: Path):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert model.config.model_type == "llama"
    size = sum(path.stat().st_size for path in tiny_model_dir.iterdir())
    assert size < 1_000_000, size
    assert tokenizer.pad_token_id is not None and tokenizer.pad_token_id != tokenizer.eos_token_id
    text = "TNF-α 5 mg/kg — 肝臓"
    assert tokenizer.decode(tokenizer(text, add_special_tokens=False).input_ids) == text
    assert tokenizer(text).input_ids[0] == tokenizer.bos_token_id


def test_tiny_chat_template_marks_assistant_tokens(tiny_model_dir: Path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    messages = [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "metformin"}]
    out = tokenizer.apply_chat_template(messages, return_dict=True, return_assistant_tokens_mask=True)
    masked = [tok for tok, keep in zip(out["input_ids"], out["assistant_masks"], strict=True) if keep]
    assert tokenizer.decode(masked) == "metformin</s>"


def test_build_is_deterministic(tmp_path: Path):
    import torch

    from bioinstruct.training.tiny import build_tiny_llama

    first = AutoModelForCausalLM.from_pretrained(build_tiny_llama(tmp_path / "a", seed=3))
    second = AutoModelForCausalLM.from_pretrained(build_tiny_llama(tmp_path / "b", seed=3))
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
