"""``model_name_or_path`` accepts a ``.gguf`` file or ``smollm2``, as ``--model`` does elsewhere."""

from __future__ import annotations

import pytest


def test_the_recipe_resolves_the_model_name_before_loading(tmp_path, tiny_model_dir, monkeypatch):
    from bioinstruct.training import recipe
    from bioinstruct.training.config import parse_training_args

    asked = []

    def fake_resolve(name):
        asked.append(name)
        return str(tiny_model_dir) if name.endswith(".gguf") else name

    monkeypatch.setattr(recipe, "resolve_model", fake_resolve)
    data = tmp_path / "rows.jsonl"
    data.write_text('{"instruction": "Define HbA1c.", "input": "", "output": "Glycated haemoglobin."}\n' * 4)
    script, training, model = parse_training_args(
        [
            "--model_name_or_path",
            str(tmp_path / "model.Q4_1.gguf"),
            "--dataset_name",
            str(data),
            "--output_dir",
            str(tmp_path / "out"),
            "--use_cpu",
            "true",
            "--max_steps",
            "1",
            "--report_to",
            "none",
        ]
    )
    trainer = recipe.build_trainer(script, training, model)
    assert asked == [str(tmp_path / "model.Q4_1.gguf")]
    assert model.model_name_or_path == str(tiny_model_dir)
    assert trainer.model is not None


@pytest.mark.slow
def test_the_hf_backend_and_the_recipe_load_the_real_gguf(small_model_dir):
    from bioinstruct.evaluation.backends.hf import HFBackend
    from bioinstruct.models import installed_gguf, resolve_model

    gguf = installed_gguf()
    assert gguf is not None
    assert resolve_model(str(gguf)) == str(small_model_dir), "converted once, found again"
    backend = HFBackend(str(gguf), device="cpu", batch_size=1)
    assert backend.model_name == str(gguf) and backend.model.config.num_hidden_layers == 30
    assert backend.tokenizer.chat_template
