"""The dataset card and everything up to the Hub call (pushing itself needs the network)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bioinstruct.errors import BioInstructError, DataError
from bioinstruct.hub import DATA_PATH_IN_REPO, push_dataset, render_dataset_card

RUN = {
    "status": "complete",
    "config": {
        "teacher_model": "gpt-4-0613", "seed_set_hash": "abc123def456", "num_seed_tasks": 80, "num_prompt_seeds": 3,
        "tasks_per_prompt": 20, "similarity_threshold": 0.7, "similarity_tokenizer": "rouge", "temperature": 1.0,
        "top_p": 1.0, "seed": 0, "batch_api": False, "json_mode": False,
    },
    "counters": {
        "kept": 4, "candidates": 11, "rejected_by_filter": {"similarity": 4, "blacklist": 2, "label": 1},
        "surplus": 0, "truncated_items": 2, "generation_requests": 3, "failed_requests": 1, "label_requests": 2,
        "prompt_tokens": 3000, "completion_tokens": 2500, "cost_usd": 1.234567,
    },
}  # fmt: skip


def make_run(folder, categories=("QA", "QA", "IE", "GEN")):
    folder.mkdir()
    rows = [
        {"id": f"gen-000001-{i:02d}", "instruction": f"Task {i} about the kidney.", "input": "", "output": "x",
         "category": category, "seed_ids": ["seed_001"], "request_id": "gen-000001", "teacher_model": "gpt-4-0613",
         "most_similar": {"id": "seed_001", "score": 0.1}}
        for i, category in enumerate(categories, start=1)
    ]  # fmt: skip
    (folder / "instructions.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (folder / "run.json").write_text(json.dumps(RUN))
    return rows


def folder_files(folder) -> dict[str, bytes]:
    """{path relative to folder: bytes} of every file under ``folder``."""
    folder = Path(folder)
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_card_shows_provenance_counts_filters_and_cost(tmp_path):
    from huggingface_hub import DatasetCard

    rows = make_run(tmp_path / "run")
    card = render_dataset_card(rows, RUN, "my-org/bio-4")
    header = yaml.safe_load(card.split("---\n")[1])
    assert header["configs"][0]["data_files"][0] == {"split": "train", "path": DATA_PATH_IN_REPO}
    assert header["size_categories"] == ["n<1K"] and "bioinstruct" in header["tags"]
    assert DatasetCard(card).data.license == "other"
    assert "| Teacher model | `gpt-4-0613` |" in card
    assert "| Seed set | 80 tasks, hash `abc123def456` |" in card
    assert "| QA | 2 | 50.0% |" in card and "| IE | 1 | 25.0% |" in card and "| OTHER | 0 | 0.0% |" in card
    assert (
        card.index("| `similarity` | 4 |") < card.index("| `blacklist` | 2 |") < card.index("| `label` | 1 |")
    )
    assert "$1.23" in card and "11 candidates" in card and "2 items cut off" in card
    assert 'load_dataset("my-org/bio-4", split="train")' in card
    assert "{{" not in card.replace("{{bioinstruct developers}}", "") and "{%" not in card


class FakeApi:
    """Records the calls a push makes on huggingface_hub.HfApi, with the uploaded folder's files as they
    were at the moment of the ``upload_folder`` call (the folder is a temporary one)."""

    def __init__(self):
        self.calls = []

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", repo_id, kwargs))

    def upload_folder(self, *, repo_id, folder_path, **kwargs):
        self.calls.append(("upload_folder", repo_id, folder_files(folder_path), kwargs))
        prefix = "datasets/" if kwargs.get("repo_type") == "dataset" else ""
        return type("Info", (), {"commit_url": f"https://huggingface.co/{prefix}{repo_id}/commit/1"})()


def test_push_dataset_uploads_one_private_folder_with_data_card_and_chart(tmp_path):
    rows = make_run(tmp_path / "run")
    api = FakeApi()
    url = push_dataset(tmp_path / "run", "my-org/bio-4", api=api)
    assert url == "https://huggingface.co/datasets/my-org/bio-4/commit/1"
    (_, repo, repo_kwargs), (_, upload_repo, files, upload_kwargs) = api.calls
    assert repo == upload_repo == "my-org/bio-4"
    assert repo_kwargs == {"repo_type": "dataset", "private": True, "exist_ok": True}
    assert upload_kwargs == {
        "repo_type": "dataset",
        "commit_message": "Add 4 bioinstruct rows with their dataset card",
    }
    assert set(files) == {
        "README.md",
        DATA_PATH_IN_REPO,
        "images/category_mix.png",
        "images/nearest_neighbour.png",
    }
    assert [json.loads(line) for line in files[DATA_PATH_IN_REPO].decode().splitlines()] == rows
    assert files["README.md"].decode() == render_dataset_card(rows, RUN, "my-org/bio-4")
    assert files["images/category_mix.png"].startswith(b"\x89PNG")
    assert files["images/nearest_neighbour.png"].startswith(b"\x89PNG")
    push_dataset(tmp_path / "run", "my-org/bio-4", api=api, private=False)
    assert api.calls[2][2]["private"] is False


def test_push_errors_are_clear(tmp_path):
    with pytest.raises(DataError, match="instructions.jsonl not found"):
        push_dataset(tmp_path, "my-org/x", api=FakeApi())
    make_run(tmp_path / "run")
    with pytest.raises(BioInstructError, match="namespace/name"):
        push_dataset(tmp_path / "run", "no-namespace", api=FakeApi())

    import httpx2
    from huggingface_hub.errors import HfHubHTTPError

    class Forbidden(FakeApi):
        def create_repo(self, repo_id, **kwargs):
            response = httpx2.Response(
                403, request=httpx2.Request("POST", "https://huggingface.co/api/repos/create")
            )
            raise HfHubHTTPError("403 Forbidden: you cannot write to my-org", response=response)

    with pytest.raises(BioInstructError, match=r"pushing to dataset repo 'my-org/x' failed \(HTTP 403\)"):
        push_dataset(tmp_path / "run", "my-org/x", api=Forbidden())


def test_push_cli_uses_the_dataset_target(tmp_path, monkeypatch, capsys):
    import huggingface_hub

    make_run(tmp_path / "run")
    api = FakeApi()
    monkeypatch.setattr(huggingface_hub, "HfApi", lambda token=None: api)
    from bioinstruct.cli import main

    assert main(["push", "dataset", str(tmp_path / "run"), "my-org/bio-4"]) == 0
    assert capsys.readouterr().out.strip() == "https://huggingface.co/datasets/my-org/bio-4/commit/1"
    assert api.calls[0][2]["private"] is True, "private by default"
    assert main(["push", "dataset", str(tmp_path / "run"), "my-org/bio-4", "--public"]) == 0
    assert api.calls[2][2]["private"] is False
    assert main(["push", "dataset", str(tmp_path / "run"), "my-org/bio-4", "--private"]) == 0
    assert api.calls[4][2]["private"] is True


def test_push_targets_are_extensible():
    import argparse

    from bioinstruct.commands import push as hub_cli

    seen = {}
    hub_cli.register_target(
        "adapter-test",
        "Push a test artefact.",
        lambda p: p.add_argument("path"),
        lambda a: seen.setdefault("p", a.path) and 0,
    )
    try:
        parser = argparse.ArgumentParser()
        hub_cli.add_arguments(parser)
        assert hub_cli.run(parser.parse_args(["adapter-test", "x"])) == 0 and seen == {"p": "x"}
    finally:
        del hub_cli.TARGETS["adapter-test"]


@pytest.mark.parametrize("offline", [True, False])
def test_push_without_network_is_one_clear_error(tmp_path, offline):
    import httpx2
    from huggingface_hub.errors import OfflineModeIsEnabled

    make_run(tmp_path / "run")

    class Unreachable(FakeApi):
        def create_repo(self, repo_id, **kwargs):
            if offline:
                raise OfflineModeIsEnabled(
                    "Cannot reach https://huggingface.co/api/repos/create: offline mode"
                )
            raise httpx2.ConnectError("[Errno -2] Name or service not known")

    with pytest.raises(BioInstructError, match="cannot reach the Hub"):
        push_dataset(tmp_path / "run", "my-org/x", api=Unreachable())
