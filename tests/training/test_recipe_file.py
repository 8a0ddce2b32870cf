"""recipe.yaml: the effective configuration round-trips through the training parser, holds no token,
and a real (tiny) training run leaves recipe.yaml, trainer_state.json and the loss curve for its card."""

from __future__ import annotations

from pathlib import Path

import yaml

from bioinstruct.training.cli import main as train_main
from bioinstruct.training.config import parse_training_args
from bioinstruct.training.recipe_file import effective_recipe, recipe_yaml
from tests.training.recipe_args import tiny_recipe, write_rows

TOKEN = "hf_RECIPEsentinelRECIPEsentinel012345"


def test_recipe_round_trips_and_holds_no_token(tmp_path: Path):
    recipe = tiny_recipe(
        tmp_path / "r.yaml",
        tmp_path / "model",
        tmp_path / "d.jsonl",
        tmp_path / "out",
        hub_token=TOKEN,
        model_init_kwargs={"token": TOKEN, "low_cpu_mem_usage": True},
        categories="QA,IE",
        eos_token="</s>",
    )
    configs = parse_training_args(["--config", str(recipe)])
    effective = effective_recipe(*configs)
    text = recipe_yaml(effective)
    assert TOKEN not in text and "hub_token" not in text
    assert text.startswith(f"model_name_or_path: {tmp_path / 'model'}\n")
    loaded = yaml.safe_load(text)
    assert loaded["model_init_kwargs"] == {"low_cpu_mem_usage": True}
    assert (loaded["lora_r"], loaded["learning_rate"], loaded["categories"]) == (8, 0.01, "QA,IE")
    assert loaded["eos_token"] == "</s>", "a tokenizer setting, not a credential"
    assert loaded["lr_scheduler_type"] == "constant" and "seed" not in loaded, "defaults are left out"
    assert "gradient_checkpointing" not in loaded, "deprecated alias of activation_checkpointing"
    (tmp_path / "again.yaml").write_text(text)
    assert effective_recipe(*parse_training_args(["--config", str(tmp_path / "again.yaml")])) == effective


def test_training_leaves_recipe_state_and_loss_curve_for_the_card(tmp_path: Path, tiny_model_dir: Path):
    data = write_rows(tmp_path / "train.jsonl", repeat=2)
    out = tmp_path / "out"
    recipe = tiny_recipe(tmp_path / "r.yaml", tiny_model_dir, data, out, max_steps=3, save_strategy="no")
    assert train_main(["--config", str(recipe)]) == 0
    assert not list(out.glob("checkpoint-*")) and (out / "trainer_state.json").is_file()
    assert yaml.safe_load((out / "recipe.yaml").read_text())["max_steps"] == 3
    assert (out / "images" / "loss_curve.png").read_bytes()[:4] == b"\x89PNG"
    card = (out / "README.md").read_text()
    assert "![Training loss](images/loss_curve.png)" in card and "max_steps: 3" in card
