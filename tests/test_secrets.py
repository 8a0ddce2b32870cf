"""One set of secret patterns: what redaction hides, recipe.yaml leaves out and the publish scan refuses agree."""

from __future__ import annotations

import pytest

from bioinstruct.errors import BioInstructError, ConfigError
from bioinstruct.hub_upload import check_repo_id
from bioinstruct.secrets import SECRET_FIELD, assert_no_secrets, looks_like_key, public_url, redact

CANDIDATES = [
    ("sk-" + "a1" * 8, True),  # 16 characters after sk-: the shortest key shape
    ("sk-" + "a" * 15, False),
    ("sk-proj-SENTINEL-openai-0123", True),
    ("hf_" + "B" * 20, True),
    ("hf_" + "B" * 19, False),
    ("sk-learn", False),
    ("token-classification", False),  # a pipeline tag in every other model card
]


@pytest.mark.parametrize(("value", "is_key"), CANDIDATES)
def test_redaction_and_the_publish_scan_agree(value, is_key, tmp_path, monkeypatch):
    for name in (
        "HF_TOKEN",
        "HUGGING_FACE_HUB_TOKEN",
        "OPENAI_API_KEY",
        "AZURE_OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # no cached login
    assert looks_like_key(f"key: {value}") is is_key
    assert (value not in redact(f"failed with {value}")) is is_key
    folder = tmp_path / "card"
    folder.mkdir()
    (folder / "README.md").write_text(f"---\nnote: {value}\n---\n")
    if is_key:
        with pytest.raises(BioInstructError, match="shaped like an API key"):
            assert_no_secrets(folder)
    else:
        assert_no_secrets(folder)


def test_known_values_are_refused_whatever_their_shape(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "local-key-42")
    (tmp_path / "config.json").write_text('{"base_url": "x", "note": "local-key-42"}')
    with pytest.raises(BioInstructError) as info:
        assert_no_secrets(tmp_path)
    assert "OPENAI_API_KEY" in str(info.value) and "local-key-42" not in str(info.value)
    assert redact("auth local-key-42 failed", ("local-key-42",)) == "auth *** failed"


def test_secret_field_names_and_public_urls():
    assert all(SECRET_FIELD.search(n) for n in ("hub_token", "token", "api_key", "apikey", "client_secret"))
    assert not any(SECRET_FIELD.search(n) for n in ("eos_token", "pad_token", "max_tokens", "tokenizer"))
    assert public_url("https://alice:sk-x@host:8000/v1?key=abc#f") == "https://host:8000/v1"


@pytest.mark.parametrize("repo_id", ["org/name", "my-org/bio_instruct.v2"])
def test_hub_repo_ids_the_hub_accepts(repo_id):
    assert check_repo_id(repo_id) == repo_id


@pytest.mark.parametrize("repo_id", ["name-only", "org/na--me", "org/name.", "a/b/c", "org/"])
def test_hub_repo_ids_the_hub_refuses_are_one_line(repo_id):
    with pytest.raises(ConfigError) as info:
        check_repo_id(repo_id)
    assert "\n" not in str(info.value) and repo_id in str(info.value)
