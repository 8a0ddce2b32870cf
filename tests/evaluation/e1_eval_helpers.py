"""Helpers shared by E1's evaluation tests (a real LoRA adapter, sample file paths)."""

from __future__ import annotations

from pathlib import Path

#: The file of each QA benchmark in a bionlp folder (tests/fixtures/bionlp or the real samples).
QA_SAMPLE_FILES = {
    "medqa": "medqa.jsonl",
    "medmcqa": "medmcqa.jsonl",
    "pubmedqa": "pubmedqa.jsonl",
    "bioasq": "bioasq_yesno.jsonl",
}


def qa_data_files(folder: Path) -> dict[str, str]:
    return {name: str(folder / file) for name, file in QA_SAMPLE_FILES.items()}


def make_lora_adapter(model_dir: Path, out_dir: Path, *, seed: int = 1, scale: float = 0.5) -> Path:
    """Save a LoRA adapter on ``model_dir`` in the format the training recipe saves (peft).

    LoRA's B matrices start at zero (the adapter is a no-op); they are filled with random
    values so that the adapter really changes the model's outputs.
    """
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir)
    config = LoraConfig(
        r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "o_proj"], task_type="CAUSAL_LM"
    )
    peft_model = get_peft_model(model, config)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in peft_model.named_parameters():
            if "lora_" in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * scale)
    peft_model.save_pretrained(out_dir)
    return Path(out_dir)
