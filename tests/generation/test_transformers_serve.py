"""The `transformers serve` test helper: its command, the sampling copy, and a clear error on death."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bioinstruct.testing.transformers_serve import ServerUnavailable, TransformersServer


def test_command_binds_localhost_and_sampling_copy_links_the_model(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "generation_config.json").write_text(json.dumps({"eos_token_id": 2}))
    server = TransformersServer(model, sampling=True, port=8123)
    try:
        command = server.command()
    except ServerUnavailable as err:
        pytest.skip(str(err))
    served = server.model_dir
    assert command[-8:-5] == [served, "--host", "127.0.0.1"] and "--port" in command and "8123" in command
    assert served != str(model) and (tmp_path / "model" / "config.json").samefile(f"{served}/config.json")
    assert json.loads(Path(served, "generation_config.json").read_text()) == {
        "eos_token_id": 2,
        "do_sample": True,
    }
    assert server.base_url == "http://127.0.0.1:8123/v1" and server.model_id == served
    server.stop()  # never started: only the copy is removed
    assert not (tmp_path / "model").joinpath("generation_config.json").read_text().count("do_sample")
    assert not Path(served).exists()


@pytest.mark.slow
def test_a_server_that_dies_says_why(tmp_path):
    server = TransformersServer(tmp_path / "no-such-model", startup_timeout=120)
    try:
        server.command()
    except ServerUnavailable as err:
        pytest.skip(str(err))
    with pytest.raises(RuntimeError, match="transformers serve exited with code") as info:
        server.start()
    assert "its output ends:" in str(info.value) and not server.running
