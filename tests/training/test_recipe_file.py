"""recipe.yaml: the effective configuration round-trips through the training parser, holds no token,
and a real (tiny) training run leaves recipe.yaml, trainer_state.json and the loss curve for its card."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest
import yaml

from bioinstruct.commands.train import main as train_main
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


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the recipe is empty"),
        ("- lora_r: 8\n", "a recipe is a YAML mapping"),
        ("lora_r: [8, 16]\n", "recipe.yaml:1: lora_r: [8, 16] is a list; expected one value"),
        ("lora_r: 8.5\n", "recipe.yaml:1: lora_r: 8.5 is not an integer"),
        ("use_cpu: maybe\n", "recipe.yaml:1: use_cpu: 'maybe' is not true or false"),
        ("env: [A]\n", "recipe.yaml:1: env must be a mapping"),
        ("lora_target_modules: [q_proj, v_proj]\nlearning_rate: 1.0e-4\nuse_cpu: true\n", None),
    ],
)
def test_recipe_values_are_checked_against_the_fields(tmp_path, monkeypatch, text, message):
    from bioinstruct.errors import ConfigError
    from bioinstruct.training.config import make_parser
    from bioinstruct.training.recipe_file import check_recipe, load_recipe

    monkeypatch.chdir(tmp_path)
    Path("recipe.yaml").write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)) if message else contextlib.nullcontext():
        recipe, lines = load_recipe("recipe.yaml")
        check_recipe(recipe, lines, make_parser(), "recipe.yaml")


def test_every_example_recipe_and_a_saved_recipe_pass_the_checks(tmp_path):
    """The checks refuse nothing a user is told to run: examples/recipes/*.yaml, and the recipe.yaml
    a run saves (which the card says to rerun with `bioinstruct train --config recipe.yaml`)."""
    from bioinstruct.training.config import make_parser
    from bioinstruct.training.recipe_file import RECIPE_FILE, check_recipe, load_recipe

    parser = make_parser()
    saved = tmp_path / RECIPE_FILE
    configs = parse_training_args(
        ["--config", str(tiny_recipe(tmp_path / "r.yaml", tmp_path, tmp_path, tmp_path))]
    )
    saved.write_text(recipe_yaml(effective_recipe(*configs)))
    recipes = sorted((Path(__file__).parents[2] / "examples" / "recipes").glob("*.yaml"))
    assert len(recipes) >= 5
    for path in [*recipes, saved]:
        check_recipe(*load_recipe(path), parser, str(path))


def test_warmup_ratio_reaches_the_scheduler(tmp_path):
    """transformers 5 has no ``warmup_ratio``: the recipe's ratio must become the scheduler's warm-up,
    and an explicit ``warmup_steps`` still wins."""
    from bioinstruct.training.config import parse_training_args

    base = ["--config", "examples/recipes/small-instruct-cpu.yaml", "--output_dir", str(tmp_path)]
    _, args, _ = parse_training_args(base)
    assert args.warmup_ratio == 0.05 and args.get_warmup_steps(100) == 5
    _, args, _ = parse_training_args([*base, "--warmup_steps", "7"])
    assert args.get_warmup_steps(100) == 7
    _, args, _ = parse_training_args(["--output_dir", str(tmp_path), "--use_cpu", "true", "--bf16", "false"])
    assert args.get_warmup_steps(1000) == 30  # the recipe default, 3%
