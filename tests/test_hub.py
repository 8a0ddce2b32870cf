"""Publishing: the dry-run folder is byte for byte what `upload_folder` receives, dry-run targets are
replaced safely, repos are private by default, and no credential reaches a file, a log line or stdout."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

import pytest

from bioinstruct.cli import main
from bioinstruct.errors import BioInstructError, ConfigError
from bioinstruct.hub import push_adapter, push_dataset
from tests.cards.fixtures import make_adapter, write_results
from tests.generation.test_hub_card import RUN, FakeApi, folder_files, make_run

HF_SENTINEL = "hf_SENTINELsentinelSENTINELsentinel0123"
OPENAI_SENTINEL = "sk-proj-SENTINEL-openai-key-0123456789"
URL_SECRET = "sk-secret-in-url-0123456789"

ADAPTER_FILES = {
    "README.md",
    "adapter_config.json",
    "adapter_model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "recipe.yaml",
    "results.json",
    "images/loss_curve.png",
}


def hidden_leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_dataset_dry_run_is_exactly_the_uploaded_folder(tmp_path):
    make_run(tmp_path / "run")
    api = FakeApi()
    push_dataset(tmp_path / "run", "my-org/bio-4", api=api)
    uploaded = api.calls[1][2]
    assert push_dataset(tmp_path / "run", "my-org/bio-4", dry_run=tmp_path / "dry") == str(tmp_path / "dry")
    assert folder_files(tmp_path / "dry") == uploaded
    assert set(uploaded) == {
        "README.md",
        "data/train.jsonl",
        "images/category_mix.png",
        "images/nearest_neighbour.png",
    }
    assert hidden_leftovers(tmp_path) == []


def test_the_recorded_calls_fit_the_real_hfapi_signatures(tmp_path):
    import inspect

    from huggingface_hub import HfApi

    make_run(tmp_path / "run")
    api = FakeApi()
    push_dataset(tmp_path / "run", "my-org/bio-4", api=api)
    (_, repo, repo_kwargs), (_, upload_repo, _, upload_kwargs) = api.calls
    inspect.signature(HfApi.create_repo).bind(HfApi(), repo, **repo_kwargs)
    inspect.signature(HfApi.upload_folder).bind(
        HfApi(), repo_id=upload_repo, folder_path="x", **upload_kwargs
    )


def test_a_builder_run_is_pushed_private_by_default_and_has_a_dry_run(tmp_path, monkeypatch):
    import huggingface_hub

    from bioinstruct import BioInstructBuilder, push_dataset

    make_run(tmp_path / "run")
    builder = BioInstructBuilder(
        output_dir=tmp_path / "run", api_key="local", base_url="http://127.0.0.1:9/v1"
    )
    assert push_dataset(builder.output_dir, "my-org/bio", dry_run=tmp_path / "dry") == str(tmp_path / "dry")
    api = FakeApi()
    monkeypatch.setattr(huggingface_hub, "HfApi", lambda token=None: api)
    push_dataset(builder.output_dir, "my-org/bio")
    assert api.calls[0][2]["private"] is True
    assert api.calls[1][2] == folder_files(tmp_path / "dry")


def test_adapter_dry_run_is_exactly_the_uploaded_folder(tmp_path):
    adapter = make_adapter(tmp_path / "lora")
    results = write_results(tmp_path / "results.json", adapter)
    api = FakeApi()
    url = push_adapter(adapter, "my-org/bio-lora", results=results, api=api)
    assert url == "https://huggingface.co/my-org/bio-lora/commit/1"
    (_, repo, repo_kwargs), (_, _, uploaded, upload_kwargs) = api.calls
    assert repo_kwargs == {"repo_type": "model", "private": True, "exist_ok": True}
    assert upload_kwargs["repo_type"] == "model"
    assert set(uploaded) == ADAPTER_FILES, "no training_args.bin, checkpoints or bioinstruct_card.json"
    assert uploaded["adapter_model.safetensors"] == (adapter / "adapter_model.safetensors").read_bytes()
    dry = tmp_path / "publish" / "adapter"
    assert push_adapter(adapter, "my-org/bio-lora", results=results, dry_run=dry) == str(dry)
    assert folder_files(dry) == uploaded


def test_dry_run_replaces_an_earlier_dry_run_and_refuses_anything_else(tmp_path):
    make_run(tmp_path / "run", categories=("QA", "IE"))
    dry = tmp_path / "dry"
    push_dataset(tmp_path / "run", "my-org/bio", dry_run=dry)
    (dry / "images" / "stale.png").write_bytes(b"old")
    make_run(tmp_path / "run2", categories=("GEN",))
    push_dataset(tmp_path / "run2", "my-org/bio", dry_run=dry)
    assert set(folder_files(dry)) == {
        "README.md",
        "data/train.jsonl",
        "images/category_mix.png",
        "images/nearest_neighbour.png",
    }
    assert len((dry / "data" / "train.jsonl").read_text().splitlines()) == 1

    # The generation run itself (or any folder that is not an earlier dry run) is never replaced.
    before = folder_files(tmp_path / "run")
    with pytest.raises(
        ConfigError, match=r"--dry-run folder .*run' is not empty and is not an earlier dry run"
    ):
        push_dataset(tmp_path / "run", "my-org/bio", dry_run=tmp_path / "run")
    assert folder_files(tmp_path / "run") == before
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "README.md").write_text("# my notes\n")
    with pytest.raises(ConfigError, match="has no bioinstruct README.md"):
        push_dataset(tmp_path / "run", "my-org/bio", dry_run=tmp_path / "notes")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="exists and is not a folder"):
        push_dataset(tmp_path / "run", "my-org/bio", dry_run=tmp_path / "file")
    (tmp_path / "empty").mkdir()
    push_dataset(tmp_path / "run", "my-org/bio", dry_run=tmp_path / "empty")
    assert (tmp_path / "empty" / "README.md").is_file()


def test_a_failed_dry_run_leaves_the_earlier_folder_and_no_staging(tmp_path):
    make_run(tmp_path / "run")
    dry = tmp_path / "dry"
    push_dataset(tmp_path / "run", "my-org/bio", dry_run=dry)
    before = folder_files(dry)
    with pytest.raises(ConfigError, match="is not a Hub licence id"):
        push_dataset(tmp_path / "run", "my-org/bio", dry_run=dry, license="Not A Licence")
    assert folder_files(dry) == before and hidden_leftovers(tmp_path) == []


def test_no_credential_reaches_a_file_a_log_or_stdout(tmp_path, monkeypatch, caplog, capsys):
    import huggingface_hub

    monkeypatch.setenv("HF_TOKEN", HF_SENTINEL)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_SENTINEL)
    run = copy.deepcopy(RUN)
    run["config"]["base_url"] = f"https://user:{URL_SECRET}@llm.example.org/v1"
    make_run(tmp_path / "run")
    (tmp_path / "run" / "run.json").write_text(json.dumps(run))
    adapter = make_adapter(tmp_path / "lora")
    results = write_results(tmp_path / "results.json", adapter)
    api = FakeApi()
    monkeypatch.setattr(huggingface_hub, "HfApi", lambda token=None: api)
    with caplog.at_level(logging.DEBUG):
        assert main(["push", "dataset", str(tmp_path / "run"), "my-org/bio"]) == 0
        assert main(["push", "adapter", str(adapter), "my-org/lora", "--results", str(results)]) == 0
        assert (
            main(["push", "dataset", str(tmp_path / "run"), "my-org/bio", "--dry-run", str(tmp_path / "d")])
            == 0
        )
        push_adapter(adapter, "my-org/lora", results=results, token=HF_SENTINEL, dry_run=tmp_path / "a")
    published = [files for call in api.calls if call[0] == "upload_folder" for files in call[2].values()]
    published += [*folder_files(tmp_path / "d").values(), *folder_files(tmp_path / "a").values()]
    assert "https://llm.example.org/v1" in folder_files(tmp_path / "d")["README.md"].decode()
    seen = [*published, caplog.text.encode(), capsys.readouterr().out.encode()]
    for secret in (HF_SENTINEL, OPENAI_SENTINEL, URL_SECRET):
        assert not any(secret.encode() in blob for blob in seen), secret


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        ("HF_TOKEN", HF_SENTINEL, "contains the value of HF_TOKEN"),
        ("OPENAI_API_KEY", "a-custom-key-without-shape", "contains the value of OPENAI_API_KEY"),
        (None, "hf_" + "A" * 34, "contains something shaped like an API key or Hub token"),
    ],
)
def test_a_credential_in_the_folder_is_refused_without_showing_it(
    tmp_path, monkeypatch, where, value, message
):
    if where:
        monkeypatch.setenv(where, value)
    rows = make_run(tmp_path / "run")
    rows[0]["output"] = f"the key is {value}"
    (tmp_path / "run" / "instructions.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    api = FakeApi()
    for kwargs in ({"api": api}, {"dry_run": tmp_path / "dry"}):
        with pytest.raises(BioInstructError, match=f"refusing to publish: data/train.jsonl {message}") as err:
            push_dataset(tmp_path / "run", "my-org/bio", **kwargs)
        assert value not in str(err.value)
    assert api.calls == [] and not (tmp_path / "dry").exists() and hidden_leftovers(tmp_path) == []


def test_cli_adapter_target_and_dry_run(tmp_path, monkeypatch, capsys):
    import huggingface_hub

    adapter = make_adapter(tmp_path / "lora")
    results = write_results(tmp_path / "results.json", adapter)
    api = FakeApi()
    monkeypatch.setattr(huggingface_hub, "HfApi", lambda token=None: api)
    argv = ["push", "adapter", str(adapter), "my-org/lora", "--results", str(results)]
    assert main([*argv, "--dry-run", str(tmp_path / "dry")]) == 0
    assert capsys.readouterr().out.strip().endswith(f"would upload is {tmp_path / 'dry'}") and api.calls == []
    assert set(folder_files(tmp_path / "dry")) == ADAPTER_FILES
    assert main([*argv, "--public", "--dataset-id", "my-org/bio"]) == 0
    assert (
        api.calls[0][2]["private"] is False
        and "datasets:\n- my-org/bio" in api.calls[1][2]["README.md"].decode()
    )
    assert main(["push", "adapter", str(tmp_path), "my-org/lora"]) == 2
    assert "holds no adapter (adapter_config.json)" in capsys.readouterr().err


def test_push_adapter_needs_the_training_card_context(tmp_path):
    adapter = make_adapter(tmp_path / "lora")
    (adapter / "bioinstruct_card.json").unlink()
    with pytest.raises(ConfigError, match="has no bioinstruct_card.json"):
        push_adapter(adapter, "my-org/lora", dry_run=tmp_path / "dry")
    with pytest.raises(ConfigError, match="must look like 'namespace/name'"):
        push_adapter(adapter, "my-org/lora", dataset_id="nodataset", dry_run=tmp_path / "dry")
    assert not (tmp_path / "dry").exists()


def test_a_dry_run_under_a_file_is_one_clear_error(tmp_path, capsys):
    make_run(tmp_path / "run")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match=r"--dry-run .*file/out'.*file' is a file, not a folder"):
        push_dataset(tmp_path / "run", "my-org/bio", dry_run=tmp_path / "file" / "out")
    argv = [
        "push",
        "dataset",
        str(tmp_path / "run"),
        "my-org/bio",
        "--dry-run",
        str(tmp_path / "file" / "a" / "b"),
    ]
    assert main(argv) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_card_commands_fill_in_what_is_known_and_placeholders_for_the_rest(tmp_path, capsys):
    """At train time the card knows the adapter folder but no repo; once pushed, the repo but not the
    user's local folder. The REPO_ID slot never holds a path."""
    from bioinstruct.training.model_card import write_card_folder
    from tests.cards.fixtures import CONTEXT

    local = dict(CONTEXT, repo_or_path="runs/quickstart/adapter", adapter_dir="runs/quickstart/adapter")
    card = write_card_folder(tmp_path / "local", local).read_text()
    assert "bioinstruct push adapter runs/quickstart/adapter REPO_ID --results runs/eval/results.json" in card
    assert "--adapter runs/quickstart/adapter --benchmarks paper --output-dir runs/eval" in card

    adapter = make_adapter(tmp_path / "lora", context=local)
    assert main(["push", "adapter", str(adapter), "my-org/lora", "--dry-run", str(tmp_path / "dry")]) == 0
    pushed = (tmp_path / "dry" / "README.md").read_text()
    assert "bioinstruct push adapter ADAPTER_DIR my-org/lora --results runs/eval/results.json" in pushed
    assert "runs/quickstart/adapter" not in pushed.split("## Evaluation")[1].split("## Training loss")[0]


def test_dry_run_prints_its_target_once(tmp_path, capsys, caplog):
    make_run(tmp_path / "run")
    with caplog.at_level(logging.INFO):
        assert (
            main(["push", "dataset", str(tmp_path / "run"), "my-org/bio", "--dry-run", str(tmp_path / "d")])
            == 0
        )
    out = capsys.readouterr().out
    lines = out.splitlines() + [record.getMessage() for record in caplog.records if "hub" in record.name]
    assert [line for line in lines if str(tmp_path / "d") in line] == [
        f"dry run, nothing uploaded: the folder a push to dataset repo my-org/bio would upload is {tmp_path / 'd'}"
    ]
