"""`push dataset|adapter` end to end through huggingface_hub's real client, against a local Hub.

Why: the other push tests hand ``push_*`` a fake ``api`` that records calls, which cannot show what
``HfApi.create_repo`` + ``HfApi.upload_folder`` actually send. Here they run unmodified against
:class:`bioinstruct.testing.hub_server.LocalHubServer` on 127.0.0.1, so the tests see what a Hub
would receive: the repo's type and visibility, every committed file's bytes (compared with the
``--dry-run`` folder built from the same inputs), each upload's mode (base64 in the commit, or LFS),
and every request, to prove the token travels in the ``Authorization`` header and nowhere else.
"""

from __future__ import annotations

import json
import os
import secrets
import string
import subprocess
import sys
from pathlib import Path

import pytest
from huggingface_hub import DatasetCard, HfApi, ModelCard, constants, get_token

from bioinstruct.errors import BioInstructError, ConfigError
from bioinstruct.hub import push_adapter, push_dataset
from bioinstruct.testing.hub_server import LocalHubServer
from tests.cards.fixtures import BASE, make_adapter, write_results
from tests.generation.test_hub_card import folder_files, make_run

# huggingface_hub's HTTP client has no timeout: a server that never answers would hang the session.
pytestmark = pytest.mark.timeout(120)

DATASET_FILES = {"README.md", "data/train.jsonl", "images/category_mix.png", "images/nearest_neighbour.png"}
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


def random_token() -> str:
    """Shaped like a Hub token, so the push's own secret scan would also catch it in a file."""
    return "hf_" + "".join(secrets.choice(string.ascii_letters) for _ in range(34))


@pytest.fixture
def token() -> str:
    return random_token()


@pytest.fixture(autouse=True)
def online(monkeypatch):
    """conftest makes the session offline, which huggingface_hub enforces on every request it sends."""
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


@pytest.fixture
def hub(token):
    with LocalHubServer(token) as server:
        yield server


@pytest.fixture
def run_dir(tmp_path) -> Path:
    make_run(tmp_path / "run")
    return tmp_path / "run"


def assert_token_only_in_authorization(server: LocalHubServer, token: str) -> None:
    """No request path, header other than Authorization, or body, and no committed file, holds the token;
    every Hub API request did carry it (the LFS storage PUT is presigned and must not)."""
    secret = token.encode()
    assert server.requests
    for request in server.requests:
        where = f"{request.method} {request.path}"
        assert token not in request.path, where
        assert not any(token in name or token in value for name, value in request.headers.items()), where
        assert secret not in request.body, where
        # A presigned storage URL must never get the Hub token; a 404 is a route this Hub lacks (the
        # client's optional, unauthenticated /api/agent-harnesses); everything else is the Hub API.
        if request.path.startswith("/lfs-storage/"):
            assert request.auth == "missing", where
        elif request.status != 404:
            assert request.auth == "valid" and request.status in (200, 409), where
    for repo in server.repos.values():
        for path, data in repo.files.items():
            assert secret not in data, f"{repo.repo_id}/{path}"


def created(server: LocalHubServer) -> list[dict]:
    """The JSON bodies of the create-repo requests, as huggingface_hub sent them."""
    return [json.loads(r.body) for r in server.requests if r.path == "/api/repos/create"]


def test_dataset_push_creates_a_private_dataset_repo_holding_exactly_the_dry_run(
    hub, token, run_dir, tmp_path
):
    url = push_dataset(run_dir, "my-org/bio", api=HfApi(endpoint=hub.base_url, token=token))

    repo = hub.repo("my-org/bio", "dataset")
    assert repo.private is True and list(hub.repos) == [("dataset", "my-org/bio")]
    assert created(hub) == [
        {"name": "bio", "organization": "my-org", "visibility": "private", "type": "dataset"}
    ]
    assert url == f"{hub.base_url}/datasets/my-org/bio/commit/{repo.head}"
    assert [commit.summary for commit in repo.commits] == ["Add 4 bioinstruct rows with their dataset card"]
    dry = push_dataset(run_dir, "my-org/bio", dry_run=tmp_path / "dry")
    assert set(hub.files("my-org/bio", "dataset")) == DATASET_FILES
    assert hub.files("my-org/bio", "dataset") == folder_files(dry)
    assert repo.lfs_paths == set(), "small files go base64 in the commit"
    card = DatasetCard(repo.files["README.md"].decode())
    assert card.data.license == "other" and "bioinstruct" in card.data.tags
    assert card.data.configs[0]["data_files"][0] == {"split": "train", "path": "data/train.jsonl"}
    assert_token_only_in_authorization(hub, token)


def test_public_push_and_a_repeated_push_that_keeps_visibility_and_commits_nothing(hub, token, run_dir):
    api = HfApi(endpoint=hub.base_url, token=token)
    push_dataset(run_dir, "my-org/bio-public", api=api, private=False)
    assert hub.repo("my-org/bio-public", "dataset").private is False
    assert created(hub)[-1]["visibility"] == "public"

    first = push_dataset(run_dir, "my-org/bio", api=api)
    # Same rows again, asking for public: the repo exists (409), so it stays private, and the Hub
    # reports every file unchanged, so upload_folder makes no empty commit and returns the head.
    again = push_dataset(run_dir, "my-org/bio", api=api, private=False)
    repo = hub.repo("my-org/bio", "dataset")
    assert repo.private is True and len(repo.commits) == 1
    assert again == first == f"{hub.base_url}/datasets/my-org/bio/commit/{repo.head}"
    assert_token_only_in_authorization(hub, token)


@pytest.mark.parametrize("upload", ["regular", "lfs"])
def test_adapter_push_creates_a_private_model_repo_holding_exactly_the_dry_run(
    token, tmp_path, monkeypatch, upload
):
    """``lfs``: the Hub asks for the safetensors and the chart via LFS, as it does for binaries; with
    Xet disabled (this server speaks LFS, not Xet) they go through the LFS batch API and a PUT."""
    adapter = make_adapter(tmp_path / "lora")
    results = write_results(tmp_path / "results.json", adapter)
    lfs_patterns = ("*.safetensors", "*.png") if upload == "lfs" else ()
    if upload == "lfs":
        monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    with LocalHubServer(token, lfs_patterns=lfs_patterns) as hub:
        url = push_adapter(
            adapter, "my-org/bio-lora", results=results, api=HfApi(endpoint=hub.base_url, token=token)
        )
        repo = hub.repo("my-org/bio-lora", "model")
        assert list(hub.repos) == [("model", "my-org/bio-lora")] and repo.private is True
        assert created(hub)[0]["type"] == "model" and created(hub)[0]["visibility"] == "private"
        assert url == f"{hub.base_url}/my-org/bio-lora/commit/{repo.head}"
        dry = push_adapter(adapter, "my-org/bio-lora", results=results, dry_run=tmp_path / "dry")
        assert set(repo.files) == ADAPTER_FILES
        assert hub.files("my-org/bio-lora", "model") == folder_files(dry)
        safetensors = (adapter / "adapter_model.safetensors").read_bytes()
        assert repo.files["adapter_model.safetensors"] == safetensors
        assert repo.lfs_paths == (
            {"adapter_model.safetensors", "images/loss_curve.png"} if lfs_patterns else set()
        )
        if lfs_patterns:
            stored = [
                r.body for r in hub.requests if r.method == "PUT" and r.path.startswith("/lfs-storage/")
            ]
            assert safetensors in stored and len(stored) == 2
            commit = next(r.body for r in hub.requests if r.path.endswith("/commit/main"))
            operations = {
                json.loads(line)["value"].get("path"): json.loads(line)["key"] for line in commit.splitlines()
            }
            assert operations["adapter_model.safetensors"] == "lfsFile" and operations["README.md"] == "file"
        card = ModelCard(repo.files["README.md"].decode())
        assert card.data.base_model == BASE and card.data.library_name == "peft"
        assert {result.dataset_type for result in card.data.eval_results} >= {"GBaker/MedQA-USMLE-4-options"}
        assert_token_only_in_authorization(hub, token)


@pytest.mark.parametrize("sent", ["wrong", "none"])
def test_a_refused_token_is_one_line_that_does_not_show_it(hub, token, run_dir, tmp_path, monkeypatch, sent):
    """``none``: not logged in (no HF_TOKEN, no token file), so HfApi sends no Authorization header."""
    bad = random_token()
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token-file"))
    assert get_token() is None
    api = HfApi(endpoint=hub.base_url, token=bad if sent == "wrong" else None)
    with pytest.raises(BioInstructError) as err:
        push_dataset(run_dir, "my-org/bio", api=api)
    message = str(err.value)
    assert isinstance(err.value, ConfigError)  # what to do about it: log in, or a token with write access
    assert message.startswith("pushing to dataset repo 'my-org/bio' failed (HTTP 401")
    assert ("Invalid credentials" if sent == "wrong" else "must be authenticated") in message
    assert "hf auth login" in message and "HF_TOKEN" in message
    assert "\n" not in message and token not in message and bad not in message
    assert hub.repos == {}
    assert {r.auth for r in hub.requests} == {"invalid" if sent == "wrong" else "missing"}
    assert not any(bad.encode() in r.body or bad in str(r.headers) for r in hub.requests)


def test_no_write_access_to_the_namespace_is_one_line_with_the_hubs_reason(hub, token, run_dir):
    hub.inject_error("POST", r"^/api/repos/create$", 403, 'You cannot create a dataset under "my-org"')
    with pytest.raises(BioInstructError) as err:
        push_dataset(run_dir, "my-org/bio", api=HfApi(endpoint=hub.base_url, token=token))
    message = str(err.value)
    assert "\n" not in message and token not in message
    assert message.startswith("pushing to dataset repo 'my-org/bio' failed (HTTP 403)")
    assert 'You cannot create a dataset under "my-org"' in message
    assert hub.repos == {}


def test_the_hubs_reason_on_a_later_line_of_its_error_is_kept(hub, token, run_dir):
    hub.inject_error("POST", r"/commit/main$", 400, "Commit refused: file data/train.jsonl is too large")
    with pytest.raises(BioInstructError) as err:
        push_dataset(run_dir, "my-org/bio", api=HfApi(endpoint=hub.base_url, token=token))
    message = str(err.value)
    assert message.startswith("pushing to dataset repo 'my-org/bio' failed (HTTP 400)")
    assert "file data/train.jsonl is too large" in message and "\n" not in message and token not in message


def test_a_card_the_hub_refuses_is_one_line_with_its_reasons(hub, token, run_dir):
    hub.inject_error(
        "POST", r"^/api/validate-yaml$", 400, '"license" must be one of [apache-2.0, mit, other]'
    )
    with pytest.raises(BioInstructError) as err:
        push_dataset(run_dir, "my-org/bio", api=HfApi(endpoint=hub.base_url, token=token))
    message = str(err.value)
    assert message.startswith("pushing to dataset repo 'my-org/bio' failed: Invalid metadata in README.md")
    assert '"license" must be one of' in message and "\n" not in message


def test_an_unreachable_hub_is_one_clear_error(token, run_dir):
    with LocalHubServer(token) as server:
        endpoint = server.base_url
    with pytest.raises(BioInstructError) as err:
        push_dataset(run_dir, "my-org/bio", api=HfApi(endpoint=endpoint, token=token))
    message = str(err.value)
    assert message.startswith("pushing to dataset repo 'my-org/bio' failed: cannot reach the Hub (")
    assert "\n" not in message and token not in message


def run_cli(*argv: str, endpoint: str, token: str, home: Path) -> subprocess.CompletedProcess:
    """`bioinstruct ...` in a fresh interpreter: huggingface_hub reads HF_ENDPOINT when it is imported."""
    env = {k: v for k, v in os.environ.items() if k not in ("TRANSFORMERS_OFFLINE", "HUGGING_FACE_HUB_TOKEN")}
    env.update(HF_ENDPOINT=endpoint, HF_TOKEN=token, HF_HUB_OFFLINE="0", HF_HOME=str(home))
    code = "import sys; from bioinstruct.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *argv], env=env, capture_output=True, text=True, timeout=100, check=False
    )


def test_cli_push_dataset_reads_the_endpoint_and_token_from_the_environment(hub, token, run_dir, tmp_path):
    done = run_cli(
        "push",
        "dataset",
        str(run_dir),
        "my-org/bio-cli",
        endpoint=hub.base_url,
        token=token,
        home=tmp_path / "hf-home",
    )
    assert done.returncode == 0, done.stderr
    repo = hub.repo("my-org/bio-cli", "dataset")
    assert done.stdout.strip() == f"{hub.base_url}/datasets/my-org/bio-cli/commit/{repo.head}"
    assert repo.private is True
    dry = push_dataset(run_dir, "my-org/bio-cli", dry_run=tmp_path / "dry")
    assert hub.files("my-org/bio-cli", "dataset") == folder_files(dry)
    assert token not in done.stdout + done.stderr
    assert_token_only_in_authorization(hub, token)

    bad = random_token()
    refused = run_cli(
        "push",
        "dataset",
        str(run_dir),
        "my-org/bio-cli",
        endpoint=hub.base_url,
        token=bad,
        home=tmp_path / "hf-home",
    )
    assert refused.returncode == 2 and refused.stdout == "" and bad not in refused.stderr
    assert "HTTP Request" not in refused.stderr  # httpx2's line per request appears only with -v
    lines = refused.stderr.strip().splitlines()
    assert [line for line in lines if line.startswith("bioinstruct: error:")] == [lines[-1]]
    assert lines[-1].startswith(
        "bioinstruct: error: pushing to dataset repo 'my-org/bio-cli' failed (HTTP 401, Invalid credentials"
    )
