"""Real training on a tiny Llama through TRL + PEFT: loss goes down, labels mask the prompt,
the adapter reloads unmerged and merged with the same logits, and the card describes the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from bioinstruct.commands.train import main as train_main
from bioinstruct.formatting import render_prompt
from bioinstruct.training.config import parse_training_args
from bioinstruct.training.recipe import build_trainer
from tests.generation.test_hub_card import FakeApi
from tests.training.recipe_args import ROWS, tiny_recipe, write_rows


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model_dir) -> Path:
    work = tmp_path_factory.mktemp("recipe")
    data = write_rows(work / "train.jsonl")
    recipe = tiny_recipe(
        work / "recipe.yaml", tiny_model_dir, data, work / "out", max_steps=40, merge_adapter=True
    )
    assert train_main(["--config", str(recipe)]) == 0
    return work / "out"


def _losses(output_dir: Path) -> list[float]:
    state = (
        json.loads((output_dir / "checkpoint-40" / "trainer_state.json").read_text())
        if (output_dir / "checkpoint-40").exists()
        else json.loads((output_dir / "trainer_state.json").read_text())
    )
    return [entry["loss"] for entry in state["log_history"] if "loss" in entry]


def test_training_lowers_the_loss(trained: Path):
    losses = _losses(trained)
    assert len(losses) >= 30
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < first - 0.5, (first, last)


def test_adapter_reloads_and_merged_logits_match(trained: Path, tiny_model_dir: Path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(trained)
    inputs = tokenizer(
        [render_prompt("List the medications in the note.", "Metformin 500 mg twice daily.")],
        return_tensors="pt",
    )
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with torch.no_grad():
        base_logits = base(**inputs).logits
    adapted = PeftModel.from_pretrained(base, str(trained)).eval()
    merged = AutoModelForCausalLM.from_pretrained(trained / "merged").eval()
    with torch.no_grad():
        adapter_logits = adapted(**inputs).logits
        merged_logits = merged(**inputs).logits
    assert not torch.allclose(adapter_logits, base_logits, atol=1e-3), "the adapter changed nothing"
    torch.testing.assert_close(merged_logits, adapter_logits, atol=1e-4, rtol=1e-4)


def test_model_card_describes_the_run(trained: Path):
    card = (trained / "README.md").read_text()
    assert "library_name: peft" in card
    assert "| Prompt template | `bioinstruct` |" in card
    assert "r=8, alpha=16" in card
    assert "| Steps / final train loss | 40 /" in card
    for package in ("transformers", "trl", "peft", "torch"):
        assert f"- {package} " in card


def test_prompt_tokens_are_masked_and_response_plus_eos_are_learned(tmp_path: Path, tiny_model_dir: Path):
    data = write_rows(tmp_path / "train.jsonl", repeat=1)
    recipe = tiny_recipe(tmp_path / "r.yaml", tiny_model_dir, data, tmp_path / "out")
    trainer = build_trainer(*parse_training_args(["--config", str(recipe)]))
    tokenizer = trainer.processing_class
    examples = [trainer.train_dataset[i] for i in range(len(trainer.train_dataset))]
    batch = trainer.data_collator(examples)
    assert len(examples) == len(ROWS)
    for row, input_ids, labels in zip(ROWS, batch["input_ids"], batch["labels"], strict=True):
        prompt_len = len(tokenizer(render_prompt(row["instruction"], row["input"])).input_ids)
        response_ids = tokenizer(row["output"], add_special_tokens=False).input_ids
        length = prompt_len + len(response_ids) + 1
        assert (labels[:prompt_len] == -100).all(), "a prompt token is trained on"
        assert labels[prompt_len:length].tolist() == input_ids[prompt_len:length].tolist()
        assert labels[length - 1].item() == tokenizer.eos_token_id, "EOS is not learned"
        assert (labels[length:] == -100).all(), "padding is trained on"
        assert tokenizer.decode(labels[prompt_len : length - 1]) == row["output"]
    assert tokenizer.pad_token_id != tokenizer.eos_token_id


def test_category_filter_and_held_out_split(tmp_path: Path, tiny_model_dir: Path):
    data = write_rows(tmp_path / "train.jsonl", repeat=5)
    recipe = tiny_recipe(
        tmp_path / "r.yaml",
        tiny_model_dir,
        data,
        tmp_path / "out",
        categories="qa,IE",
        eval_split_size=2,
        eval_strategy="steps",
        eval_steps=5,
    )
    trainer = build_trainer(*parse_training_args(["--config", str(recipe)]))
    assert len(trainer.train_dataset) == 8 and len(trainer.eval_dataset) == 2
    assert trainer.card_context["categories"] == "qa,IE"


def test_pad_equal_to_eos_is_fixed_with_unk(tmp_path: Path, tiny_model_dir: Path):
    from transformers import AutoTokenizer

    model_dir = tmp_path / "model"
    for item in tiny_model_dir.iterdir():
        (model_dir / item.name).parent.mkdir(exist_ok=True)
        (model_dir / item.name).write_bytes(item.read_bytes())
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.pad_token = tokenizer.eos_token
    tokenizer.save_pretrained(model_dir)
    recipe = tiny_recipe(
        tmp_path / "r.yaml", model_dir, write_rows(tmp_path / "d.jsonl", repeat=1), tmp_path / "o"
    )
    trainer = build_trainer(*parse_training_args(["--config", str(recipe)]))
    assert trainer.processing_class.pad_token == "<unk>"


def test_push_adapter_sends_adapter_tokenizer_and_card_for_the_repo(trained: Path):
    from bioinstruct.hub import push_adapter

    api = FakeApi()
    url = push_adapter(trained, "my-org/tiny-bioinstruct-lora", private=True, api=api)
    assert url.endswith("/commit/1")
    assert api.calls[0] == (
        "create_repo",
        "my-org/tiny-bioinstruct-lora",
        {"repo_type": "model", "private": True, "exist_ok": True},
    )
    assert api.calls[1][0] == "upload_folder" and api.calls[1][3]["repo_type"] == "model"
    files = api.calls[1][2]
    assert {"adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "README.md"} <= set(files)
    assert {"recipe.yaml", "images/loss_curve.png"} <= set(files), "recipe and loss curve from the real run"
    card = files["README.md"].decode()
    assert 'PeftModel.from_pretrained(base, "my-org/tiny-bioinstruct-lora")' in card
    assert str(trained) not in card.split("## Use")[1].split("## Intended")[0]
