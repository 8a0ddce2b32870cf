"""Every pre-flight failure: one clear message, exit code 2, and nothing in output_dir that
looks like a finished adapter."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bioinstruct.commands.train import main as train_main
from bioinstruct.training.recipe import verify_adapter
from tests.training.recipe_args import tiny_recipe, write_rows


def _copy_model(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _run(capsys, recipe: Path, *extra: str) -> str:
    code = train_main(["--config", str(recipe), *extra])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.startswith("bioinstruct: error:")]
    assert len(lines) == 1, err
    return lines[0]


def _assert_no_adapter(output_dir: Path) -> None:
    for name in ("adapter_model.safetensors", "adapter_config.json"):
        assert not (output_dir / name).exists()


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_rows(tmp_path / "train.jsonl", repeat=1)


def test_missing_dataset(tmp_path, tiny_model_dir, capsys):
    recipe = tiny_recipe(tmp_path / "r.yaml", tiny_model_dir, tmp_path / "nope.jsonl", tmp_path / "out")
    assert "nope.jsonl" in _run(capsys, recipe) and "does not exist" in _run(capsys, recipe)
    _assert_no_adapter(tmp_path / "out")


def test_empty_dataset(tmp_path, tiny_model_dir, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    recipe = tiny_recipe(tmp_path / "r.yaml", tiny_model_dir, empty, tmp_path / "out")
    message = _run(capsys, recipe)
    assert "empty.jsonl" in message and ("no rows" in message or "empty" in message)
    _assert_no_adapter(tmp_path / "out")


def test_rows_missing_output(tmp_path, tiny_model_dir, capsys):
    bad = write_rows(
        tmp_path / "bad.jsonl", rows=[{"instruction": "a b c", "input": ""}, {"instruction": "d e f"}]
    )
    message = _run(capsys, tiny_recipe(tmp_path / "r.yaml", tiny_model_dir, bad, tmp_path / "out"))
    assert "bad.jsonl" in message and "`output`" in message
    blank = write_rows(
        tmp_path / "blank.jsonl",
        rows=[{"instruction": "a b c", "output": "x"}, {"instruction": "", "output": "y"}],
    )
    message = _run(capsys, tiny_recipe(tmp_path / "r2.yaml", tiny_model_dir, blank, tmp_path / "out"))
    assert "row index 1" in message


def test_unknown_template(tmp_path, tiny_model_dir, data, capsys):
    recipe = tiny_recipe(
        tmp_path / "r.yaml", tiny_model_dir, data, tmp_path / "out", prompt_template="vicuna"
    )
    assert "prompt_template: 'vicuna' is not one of bioinstruct, alpaca, chat" in _run(capsys, recipe)


def test_unknown_recipe_key_and_missing_recipe(tmp_path, tiny_model_dir, data, capsys):
    recipe = tiny_recipe(tmp_path / "r.yaml", tiny_model_dir, data, tmp_path / "out", lora_rank=8)
    assert "lora_rank" in _run(capsys, recipe)
    assert "cannot read the recipe" in _run(capsys, tmp_path / "missing.yaml")


def test_pad_equal_to_eos_without_fix(tmp_path, tiny_model_dir, data, capsys):
    from transformers import AutoTokenizer

    model_dir = _copy_model(tiny_model_dir, tmp_path / "model")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.pad_token = tokenizer.eos_token
    tokenizer.save_pretrained(model_dir)
    recipe = tiny_recipe(tmp_path / "r.yaml", model_dir, data, tmp_path / "out", fix_pad_token=False)
    assert "pad == eos" in _run(capsys, recipe)
    _assert_no_adapter(tmp_path / "out")


def test_qlora_with_zero3(tmp_path, tiny_model_dir, data, capsys):
    ds_config = tmp_path / "ds.json"
    ds_config.write_text(
        json.dumps({"zero_optimization": {"stage": 3}, "train_micro_batch_size_per_gpu": "auto"})
    )
    recipe = tiny_recipe(tmp_path / "r.yaml", tiny_model_dir, data, tmp_path / "out", load_in_4bit=True)
    message = _run(capsys, recipe, "--deepspeed", str(ds_config))
    assert "QLoRA" in message and "ZeRO-3" in message


def test_qlora_zero3_from_accelerate_env(tmp_path, tiny_model_dir, data, capsys, monkeypatch):
    monkeypatch.setenv("ACCELERATE_USE_DEEPSPEED", "true")
    monkeypatch.setenv("ACCELERATE_DEEPSPEED_ZERO_STAGE", "3")
    recipe = tiny_recipe(tmp_path / "r.yaml", tiny_model_dir, data, tmp_path / "out", load_in_4bit=True)
    assert "ZeRO-3" in _run(capsys, recipe)


def test_qlora_without_gpu(tmp_path, tiny_model_dir, data, capsys):
    recipe = tiny_recipe(tmp_path / "r.yaml", tiny_model_dir, data, tmp_path / "out", load_in_4bit=True)
    message = _run(capsys, recipe)
    assert "QLoRA" in message and ("bitsandbytes" in message or "CUDA" in message)


def test_chat_template_without_generation_markers(tmp_path, tiny_model_dir, data, capsys):
    from transformers import AutoTokenizer

    model_dir = _copy_model(tiny_model_dir, tmp_path / "model")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.chat_template = tokenizer.chat_template.replace("{% generation %}", "").replace(
        "{% endgeneration %}", ""
    )
    tokenizer.save_pretrained(model_dir)
    recipe = tiny_recipe(
        tmp_path / "r.yaml",
        model_dir,
        data,
        tmp_path / "out",
        prompt_template="chat",
        assistant_only_loss=True,
    )
    assert "{% generation %}" in _run(capsys, recipe)


def test_assistant_only_loss_needs_the_chat_template(tmp_path, tiny_model_dir, data, capsys):
    recipe = tiny_recipe(
        tmp_path / "r.yaml", tiny_model_dir, data, tmp_path / "out", assistant_only_loss=True
    )
    assert "assistant_only_loss works on conversations only" in _run(capsys, recipe)


def test_evaluation_without_eval_data(tmp_path, tiny_model_dir, data, capsys):
    recipe = tiny_recipe(tmp_path / "r.yaml", tiny_model_dir, data, tmp_path / "out", eval_strategy="steps")
    assert "no evaluation data" in _run(capsys, recipe)


def test_category_errors(tmp_path, tiny_model_dir, data, capsys):
    recipe = tiny_recipe(tmp_path / "r.yaml", tiny_model_dir, data, tmp_path / "out", categories="QA,XX")
    assert "unknown categories XX" in _run(capsys, recipe)
    plain = write_rows(tmp_path / "plain.jsonl", rows=[{"instruction": "a b c", "output": "d"}])
    recipe = tiny_recipe(tmp_path / "r2.yaml", tiny_model_dir, plain, tmp_path / "out", categories="QA")
    assert "no `category` column" in _run(capsys, recipe)


def test_empty_adapter_tensors_are_detected_and_removed(tmp_path):
    """The ZeRO-3 trap: an adapter saved with shape-[0] tensors is refused and deleted."""
    import torch
    from safetensors.torch import save_file

    from bioinstruct.training.recipe import TrainingOutputError

    (tmp_path / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA"}))
    save_file(
        {"base_model.model.layers.0.q_proj.lora_A.weight": torch.empty(0)},
        str(tmp_path / "adapter_model.safetensors"),
    )
    with pytest.raises(TrainingOutputError, match="ZeRO-3"):
        verify_adapter(tmp_path)
    _assert_no_adapter(tmp_path)
    save_file(
        {"base_model.model.layers.0.q_proj.lora_A.weight": torch.ones(2, 2)},
        str(tmp_path / "adapter_model.safetensors"),
    )
    (tmp_path / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA"}))
    assert verify_adapter(tmp_path).name == "adapter_model.safetensors"


def test_streaming_is_refused_rather_than_ignored(tmp_path, tiny_model_dir, data, capsys):
    recipe = tiny_recipe(tmp_path / "r.yaml", tiny_model_dir, data, tmp_path / "out", dataset_streaming=True)
    assert "dataset_streaming is not supported" in _run(capsys, recipe)
