"""The model card: results table against the base model, model-index metadata that round-trips through
huggingface_hub, the loss curve from trainer_state.json wherever it is, and the recipe."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from huggingface_hub import EvalResult, ModelCard

from bioinstruct.cards.evaluation import evaluation_for_adapter, select_for_adapter
from bioinstruct.errors import DataError
from bioinstruct.hub import build_adapter_folder
from bioinstruct.training.model_card import find_log_history, render_model_card
from tests.cards.fixtures import BASE, CONTEXT, make_adapter, result, write_results


def build(tmp_path: Path, adapter: Path, results: Path | None = None, **kwargs) -> tuple[str, Path]:
    out = tmp_path / "out"
    out.mkdir(parents=True)
    build_adapter_folder(out, adapter, "my-org/bio-lora", results=results, **kwargs)
    return (out / "README.md").read_text(), out


def test_results_become_a_table_against_the_base_model_and_model_index(tmp_path):
    adapter = make_adapter(tmp_path / "lora")
    card, out = build(tmp_path, adapter, write_results(tmp_path / "results.json", adapter))
    rows = [line for line in card.splitlines() if line.startswith("| medqa") or line.startswith("| pubmedqa")]
    assert rows == [
        "| medqa | accuracy | loglikelihood, 0-shot, bioinstruct template | 41.0 [36.0, 46.0] | 30.0 [25.0, 35.0] | +11.0 |",
        "| medqa | accuracy | generative, 0-shot, bioinstruct template | 39.0 [34.0, 44.0] | 28.0 [23.0, 33.0] | +11.0 |",
        "| pubmedqa | accuracy | loglikelihood, 0-shot, bioinstruct template | 62.0 [57.0, 67.0] | 55.0 [50.0, 60.0] | +7.0 |",
    ]  # fmt: skip
    assert (
        "- **medqa**: generative, 0-shot, bioinstruct template; n=200; data: GBaker/MedQA-USMLE-4-options [test]"
        in card
    )
    assert "3 of 200 answers unparseable (counted wrong)" in card
    assert (
        "- **pubmedqa**: loglikelihood, 0-shot, bioinstruct template; n=200; data: local file pubmedqa.jsonl"
        in card
    )
    assert "- **bioasq**: not evaluated (needs local data" in card
    assert "/home/someone" not in card, "local directories of the evaluating machine"

    data = ModelCard(card).data
    assert (data.base_model, data.library_name, data.license) == (BASE, "peft", "other")
    results = data.eval_results
    assert [(r.dataset_type, r.metric_config, r.metric_value) for r in results] == [
        ("GBaker/MedQA-USMLE-4-options", "loglikelihood-0shot-bioinstruct", 41.0),
        ("GBaker/MedQA-USMLE-4-options", "generative-0shot-bioinstruct", 39.0),
        ("qiaojin/PubMedQA", "loglikelihood-0shot-bioinstruct", 62.0),
    ]
    first = results[0]
    assert first == EvalResult(
        task_type="multiple-choice",
        task_name="MedQA-USMLE, 4 options (A-D)",
        dataset_type="GBaker/MedQA-USMLE-4-options",
        dataset_name="medqa",
        dataset_split="test",
        metric_type="accuracy",
        metric_value=41.0,
        metric_name="accuracy (%, loglikelihood, 0-shot, bioinstruct template)",
        metric_config="loglikelihood-0shot-bioinstruct",
        metric_args={
            "protocol": "loglikelihood",
            "num_fewshot": 0,
            "template": "bioinstruct",
            "n": 200,
            "data_source": "GBaker/MedQA-USMLE-4-options [test]",
            "ci95": [36.0, 46.0],
        },
    )
    # Read from a local file, PubMedQA keeps its identity but claims no Hub split.
    assert (results[2].dataset_config, results[2].dataset_split) == (None, None)

    published = json.loads((out / "results.json").read_text())
    assert {(r["adapter"], r["benchmark"], r["protocol"]["protocol"]) for r in published["results"]} == {
        ("lora", "medqa", "loglikelihood"),
        ("lora", "medqa", "generative"),
        ("lora", "pubmedqa", "loglikelihood"),
        (None, "medqa", "loglikelihood"),
        (None, "medqa", "generative"),
        (None, "pubmedqa", "loglikelihood"),
    }, "this adapter and its base only: not the other adapter"


def test_results_without_this_adapter_list_what_the_file_holds(tmp_path):
    adapter = make_adapter(tmp_path / "lora")
    path = tmp_path / "r.json"
    path.write_text(
        json.dumps(
            {"results": [result("medqa", None, 0.3), result("medqa", "qa", 0.4, adapter_path="/x/qa-lora")]}
        )
    )
    with pytest.raises(
        DataError, match=r"holds no results for the adapter .*lora'; it holds adapters qa \(/x/qa-lora\)"
    ):
        evaluation_for_adapter(path, adapter)
    (tmp_path / "results.json").write_text(json.dumps({"results": [result("medqa", None, 0.3)]}))
    with pytest.raises(DataError, match="base-model results only"):
        evaluation_for_adapter(tmp_path, adapter)  # a folder: its results.json
    (tmp_path / "results.json").write_text('{"nope": 1}')
    with pytest.raises(DataError, match="has no 'results' list"):
        evaluation_for_adapter(tmp_path, adapter)
    with pytest.raises(DataError, match="cannot read evaluation results"):
        evaluation_for_adapter(tmp_path / "missing.json", adapter)


def test_adapter_evaluated_from_another_directory_matches_on_its_folder_name(tmp_path, caplog):
    adapter = make_adapter(tmp_path / "lora")
    entries = [result("medqa", None, 0.3), result("medqa", "lora", 0.4, adapter_path="elsewhere/runs/lora")]
    with caplog.at_level(logging.WARNING):
        mine, base = select_for_adapter(entries, adapter, "r.json")
    assert [e["adapter"] for e in mine] == ["lora"] and [e["adapter"] for e in base] == [None]
    assert "matched on the folder name 'lora'" in caplog.text
    two = [*entries, result("medqa", "lora-2", 0.4, adapter_path="other/lora")]
    with pytest.raises(DataError, match="holds no results for the adapter"):
        select_for_adapter(two, adapter, "r.json")


def test_loss_curve_comes_from_the_output_dir_or_a_checkpoint(tmp_path):
    for where in (".", "checkpoint-30"):
        adapter = make_adapter(tmp_path / where.strip(".") / "lora", state_in=where)
        history, source = find_log_history(adapter)
        assert source == adapter / where / "trainer_state.json" and len(history) == 33
    card, out = build(tmp_path, adapter)
    assert (out / "images" / "loss_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert "![Training loss](images/loss_curve.png)" in card
    assert (
        "Train loss 2.95 at step 1 to 1.5 at step 30 (30 logged values); last eval loss 1.9 at step 30."
        in card
    )


def test_the_most_advanced_trainer_state_wins(tmp_path):
    adapter = make_adapter(tmp_path / "lora", state_in="checkpoint-10")
    (adapter / "checkpoint-10" / "trainer_state.json").write_text(
        json.dumps({"global_step": 10, "log_history": [{"step": 10, "loss": 9.0}]})
    )
    (adapter / "checkpoint-20").mkdir()
    (adapter / "checkpoint-20" / "trainer_state.json").write_text(
        json.dumps({"global_step": 20, "log_history": [{"step": 20, "loss": 2.0}]})
    )
    (adapter / "checkpoint-30").mkdir()
    (adapter / "checkpoint-30" / "trainer_state.json").write_text('{"global_step": 30, "log_hist')  # torn
    history, source = find_log_history(adapter)
    assert source.parent.name == "checkpoint-20" and history == [{"step": 20, "loss": 2.0}]


@pytest.mark.parametrize("history", [None, []])
def test_no_training_log_is_said_not_drawn(tmp_path, history):
    adapter = make_adapter(tmp_path / "lora", state_in="" if history is None else ".", log_history=history)
    card, out = build(tmp_path, adapter)
    assert "No training log was found" in card and not (out / "images").exists()
    assert "Not evaluated yet" in card and "--results runs/eval/results.json" in card


def test_recipe_is_published_and_embedded(tmp_path):
    adapter = make_adapter(tmp_path / "lora")
    card, out = build(tmp_path, adapter)
    recipe = (adapter / "recipe.yaml").read_text()
    assert (out / "recipe.yaml").read_text() == recipe
    assert "```yaml\n" + recipe.strip() + "\n```" in card
    assert "bioinstruct train --config recipe.yaml" in card
    # Without recipe.yaml on disk, the recipe recorded in the card context is used.
    adapter2 = make_adapter(tmp_path / "lora2", recipe=False)
    card2, out2 = build(tmp_path / "2", adapter2)
    assert "lora_alpha: 16" in (out2 / "recipe.yaml").read_text() and "lora_alpha: 16" in card2
    context = {key: value for key, value in CONTEXT.items() if key != "recipe"}
    adapter3 = make_adapter(tmp_path / "lora3", context=context, recipe=False)
    card3, out3 = build(tmp_path / "3", adapter3)
    assert "The training configuration was not recorded" in card3 and not (out3 / "recipe.yaml").exists()


def test_dataset_link_and_a_context_from_an_older_version(tmp_path):
    old = {key: value for key, value in CONTEXT.items() if key not in ("recipe", "dataset_id", "results")}
    card = render_model_card(old)
    assert ModelCard(card).data.datasets is None and "`runs/bioinstruct` (local)" in card
    adapter = make_adapter(tmp_path / "lora", context=old)
    card, _ = build(tmp_path, adapter, dataset_id="my-org/bioinstruct-25k")
    assert ModelCard(card).data.datasets == ["my-org/bioinstruct-25k"]
    assert "[`my-org/bioinstruct-25k`](https://huggingface.co/datasets/my-org/bioinstruct-25k)" in card


def test_several_protocols_in_any_order_render_grouped_per_benchmark(tmp_path):
    adapter = make_adapter(tmp_path / "lora")
    mine = str(adapter)
    entries = [
        result("medqa", "lora", 0.41, adapter_path=mine),
        result("pubmedqa", "lora", 0.62, adapter_path=mine),
        result("medqa", "lora", 0.39, adapter_path=mine, protocol="generative", shots=1),
        result("medqa", None, 0.28, protocol="generative", shots=1),
        result("medqa", None, 0.30),
    ]
    (tmp_path / "results.json").write_text(json.dumps({"results": entries}))
    card, _ = build(tmp_path, adapter, tmp_path / "results.json")
    rows = [line.split(" | ")[:5] for line in card.splitlines() if line.startswith(("| medqa", "| pubmedqa"))]
    assert rows == [
        ["| medqa", "accuracy", "loglikelihood, 0-shot, bioinstruct template", "41.0 [36.0, 46.0]", "30.0 [25.0, 35.0]"],
        ["| medqa", "accuracy", "generative, 1-shot, bioinstruct template", "39.0 [34.0, 44.0]", "28.0 [23.0, 33.0]"],
        ["| pubmedqa", "accuracy", "loglikelihood, 0-shot, bioinstruct template", "62.0 [57.0, 67.0]", "–"],
    ]  # fmt: skip
    index = [(r.dataset_name, r.metric_config, r.metric_value) for r in ModelCard(card).data.eval_results]
    assert index == [
        ("medqa", "loglikelihood-0shot-bioinstruct", 41.0),
        ("medqa", "generative-1shot-bioinstruct", 39.0),
        ("pubmedqa", "loglikelihood-0shot-bioinstruct", 62.0),
    ]


def test_ambiguous_or_malformed_results_are_one_clear_error(tmp_path):
    adapter = make_adapter(tmp_path / "lora")
    mine = str(adapter)
    path = tmp_path / "results.json"
    twice = [
        result("medqa", "lora", 0.41, adapter_path=mine),
        result("medqa", "lora", 0.45, adapter_path=mine),
    ]
    path.write_text(json.dumps({"results": twice}))
    with pytest.raises(DataError, match="scores the adapter twice on medqa under the same protocol"):
        evaluation_for_adapter(path, adapter)
    for bad, shown in ((None, "None"), ("0.4", "'0.4'"), (True, "True"), (float("nan"), "nan")):
        entry = result("medqa", "lora", 0.41, adapter_path=mine)
        entry["metrics"]["accuracy"] = bad
        path.write_text(json.dumps({"results": [entry]}))
        with pytest.raises(
            DataError, match=rf"results\[0\] \(medqa\) has accuracy = {shown}, expected a number"
        ):
            evaluation_for_adapter(path, adapter)
    entry = result("medqa", "lora", 0.41, adapter_path=mine)
    entry["ci"] = [0.3]
    path.write_text(json.dumps({"results": [entry]}))
    with pytest.raises(DataError, match=r"has ci = \[0.3\], expected \[low, high\] or null"):
        evaluation_for_adapter(path, adapter)


def test_results_of_an_older_format_match_on_the_adapter_name(tmp_path, caplog):
    adapter = make_adapter(tmp_path / "lora")
    entries = [result("medqa", None, 0.30), result("medqa", "lora", 0.41)]  # no adapter_path recorded
    for entry in entries:
        del entry["protocol"]["data_source"], entry["protocol"]["limit"]
    bare = {
        key: value for key, value in result("pubmedqa", "lora", 0.5).items() if key not in ("protocol", "ci")
    }
    (tmp_path / "results.json").write_text(json.dumps({"results": [*entries, bare]}))
    with caplog.at_level(logging.WARNING):
        card, _ = build(tmp_path, adapter, tmp_path / "results.json")
    assert "record no adapter paths; matched the adapter named 'lora'" in caplog.text
    assert (
        "| medqa | accuracy | loglikelihood, 0-shot, bioinstruct template | 41.0 [36.0, 46.0] | 30.0" in card
    )
    results = ModelCard(card).data.eval_results
    assert [(r.dataset_name, r.dataset_split, r.metric_value) for r in results] == [
        ("medqa", None, 41.0),  # the data source is unknown: no Hub split is claimed
        ("pubmedqa", None, 50.0),
    ]


def test_no_local_directory_reaches_the_published_folder(tmp_path):
    home = "/home/alice"
    context = {
        **CONTEXT,
        "base_model": f"{home}/models/llama-2-7b",
        "base_model_id": None,
        "dataset": f"{home}/data/bioinstruct",
        "repo_or_path": f"{home}/runs/lora",
        "recipe": {"model_name_or_path": f"{home}/models/llama-2-7b", "output_dir": f"{home}/runs/lora"},
    }
    for with_recipe_file in (True, False):
        adapter = make_adapter(tmp_path / str(with_recipe_file) / "lora", context=context, recipe=False)
        config = json.loads((adapter / "adapter_config.json").read_text())
        config["base_model_name_or_path"] = f"{home}/models/llama-2-7b"
        (adapter / "adapter_config.json").write_text(json.dumps(config))
        if with_recipe_file:
            (adapter / "recipe.yaml").write_text(
                f"model_name_or_path: {home}/models/llama-2-7b\ndataset_name: {home}/data/bioinstruct\n"
                f"output_dir: {home}/runs/lora\nlora_r: 8\n"
            )
        entries = [
            result("medqa", None, 0.3, model=f"{home}/models/llama-2-7b", source=f"local file {home}/medqa.jsonl"),
            result("medqa", "lora", 0.4, model=f"{home}/models/llama-2-7b", adapter_path=str(adapter),
                   source=f"local file {home}/medqa.jsonl"),
        ]  # fmt: skip
        (adapter.parent / "results.json").write_text(json.dumps({"results": entries}))
        card, out = build(adapter.parent, adapter, adapter.parent / "results.json")
        for path in out.rglob("*"):
            if path.is_file() and path.suffix != ".png":
                assert "alice" not in path.read_text(errors="replace"), path.name
        assert "| Base model | `llama-2-7b` (local) |" in card and "model_name_or_path: llama-2-7b" in card
        assert (
            json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"] == "llama-2-7b"
        )
        published = json.loads((out / "results.json").read_text())["results"]
        assert published[0]["protocol"]["data_source"] == "local file medqa.jsonl"


def test_the_card_states_what_the_run_did(tmp_path):
    adapter = make_adapter(tmp_path / "lora", context={**CONTEXT, "hp": {**CONTEXT["hp"], "max_steps": 30}})
    entry = result("instructions", "lora", 0.5, adapter_path=str(adapter), metric="rougeL")
    entry["n"], entry["protocol"]["limit"] = 8, 100  # 8 rows under a limit of 100: nothing was cut
    (tmp_path / "results.json").write_text(json.dumps({"results": [entry]}))
    card, _ = build(tmp_path, adapter, tmp_path / "results.json")
    assert "limited to" not in card and "limit" not in ModelCard(card).data.eval_results[0].metric_args
    # the trainer's train_loss (1.2345) is the mean over the run, not the final loss
    assert "| Steps / final train loss | 30 / 1.5 (logged at step 30) |" in card
    assert "30 steps (`max_steps`, which overrides the 3.0 epoch(s))" in card


def test_results_of_another_adapter_with_the_same_folder_name_are_refused(tmp_path):
    ours = make_adapter(tmp_path / "run-b" / "adapter")
    theirs = make_adapter(tmp_path / "run-a" / "adapter")  # e.g. two quickstart runs
    entries = [result("medqa", None, 0.3), result("medqa", "adapter", 0.4, adapter_path=str(theirs))]
    with pytest.raises(DataError, match=r"holds no results for the adapter .*run-b/adapter'"):
        select_for_adapter(entries, ours, "results.json")


def test_local_model_and_data_are_named_by_their_folder_and_hub_ids_kept(tmp_path):
    context = {**CONTEXT, "base_model": "runs/quickstart/tiny-llama", "base_model_id": None}
    card, _ = build(tmp_path, make_adapter(tmp_path / "lora", context=context))
    assert "| Base model | `tiny-llama` (local) |" in card
    assert "| Training data | `bioinstruct` (local) |" in card and "runs/quickstart" not in card
    card, _ = build(tmp_path / "hub", make_adapter(tmp_path / "lora2"))
    assert f"| Base model | [`{BASE}`](https://huggingface.co/{BASE}) |" in card


def test_protocol_line_states_baselines_and_warnings():
    from bioinstruct.cards.evaluation import protocol_line

    entry = {
        "benchmark": "pubmedqa",
        "n": 133,
        "protocol": {"protocol": "loglikelihood", "num_fewshot": 0, "template": "bioinstruct"},
        "diagnostics": {"chance_baseline": 1 / 3, "majority_baseline": 0.541, "majority_label": "yes"},
        "warnings": ["pubmedqa (SmolLM2): 100% of predictions are 'yes'"],
    }
    line = protocol_line(entry)
    assert "chance 33.3%; majority baseline 54.1% (always 'yes')" in line
    assert line.endswith("**Warning**: pubmedqa (SmolLM2): 100% of predictions are 'yes'")
    text = protocol_line({**entry, "diagnostics": {"empty": 8, "degenerate": 0}, "warnings": [], "n": 8})
    assert "8 of 8 outputs empty, 0 degenerate" in text
