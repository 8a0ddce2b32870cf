"""The transformers backend: lm-eval-exact log-likelihoods, batching, generation, unmerged adapters."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from bioinstruct.errors import ConfigError  # noqa: E402
from bioinstruct.evaluation.backends.hf import HFBackend  # noqa: E402
from bioinstruct.evaluation.prompting import Prompt  # noqa: E402
from tests.evaluation.e1_eval_helpers import make_lora_adapter  # noqa: E402

REQUESTS = [
    ("Question: Which drug lowers glucose?\nA. Metformin\nB. Aspirin\nAnswer:", [" A", " B", " C", " D"]),
    ("Is aspirin an NSAID? Answer yes, no or maybe.\n", ["yes", "no", "maybe"]),  # trailing space moves
    ("Premise: fever.\nHypothesis: infection.\nLabel:", [" entailment", " contradiction", " neutral"]),
]


@pytest.fixture(scope="module")
def adapter_dirs(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("adapters")
    return (
        make_lora_adapter(tiny_model_dir, root / "lora-a", seed=1),
        make_lora_adapter(tiny_model_dir, root / "lora-b", seed=2),
    )


def flat(rows: list[list[float]]) -> list[float]:
    return [value for row in rows for value in row]


def reference_loglik(backend: HFBackend, context: str, continuation: str) -> float:
    """One unbatched forward pass per option, the way lm-eval defines the score."""
    ctx, cont = backend.encode_pair(context, continuation)
    ids = torch.tensor([ctx + cont])
    with backend._variant():
        logprobs = torch.log_softmax(backend.model(input_ids=ids).logits[0].float(), dim=-1)
    return sum(float(logprobs[len(ctx) - 1 + k, token]) for k, token in enumerate(cont))


def test_loglikelihood_matches_unbatched_reference(tiny_model_dir: Path) -> None:
    backend = HFBackend(str(tiny_model_dir), batch_size=2, device="cpu")
    scores = backend.loglikelihood(REQUESTS)
    for (context, continuations), row in zip(REQUESTS, scores, strict=True):
        expected = [reference_loglik(backend, context, cont) for cont in continuations]
        assert row == pytest.approx(expected, abs=1e-4)
    # Batch size and order do not change scores.
    single = HFBackend(str(tiny_model_dir), batch_size=1, device="cpu").loglikelihood(REQUESTS[::-1])[::-1]
    for a, b in zip(scores, single, strict=True):
        assert a == pytest.approx(b, abs=1e-4)


def test_single_token_options_use_one_pass(tiny_model_dir: Path) -> None:
    backend = HFBackend(str(tiny_model_dir), batch_size=8, device="cpu")
    calls = []
    original = backend.model.forward
    backend.model.forward = lambda *a, **k: calls.append(k["input_ids"].shape) or original(*a, **k)
    # " B", " C", " D", " yes" are single tokens of the tiny tokenizer (" A" is two: Ġ + A).
    letters = [(f"Question {i}: pick one.\nAnswer:", [" B", " C", " D", " yes"]) for i in range(3)]
    scores = backend.loglikelihood(letters)
    assert len(calls) == 1 and calls[0][0] == 3  # one batch, one row per question (not per option)
    expected = [reference_loglik(backend, letters[0][0], cont) for cont in letters[0][1]]
    assert scores[0] == pytest.approx(expected, abs=1e-4)


def test_options_differing_in_their_last_token_share_one_pass(tiny_model_dir: Path) -> None:
    """A chat template ends with "assistant\\n"; lm-eval moves that newline into every option
    ("\\nB", "\\nC"), so the options are two tokens that differ only in the last one."""
    backend = HFBackend(str(tiny_model_dir), batch_size=8, device="cpu")
    context, options = "<|user|>\nPick one.\n<|assistant|>\n", ["B", "C", "D"]
    encoded = [backend.encode_pair(context, option)[1] for option in options]
    assert {len(ids) for ids in encoded} == {2} and len({ids[0] for ids in encoded}) == 1  # the premise
    calls = []
    original = backend.model.forward
    backend.model.forward = lambda *a, **k: calls.append(k["input_ids"].shape) or original(*a, **k)
    mixed = [(context, options), (context, ["B", " entailment"])]  # the second differs in length
    scores = backend.loglikelihood(mixed)
    assert [shape[0] for shape in calls] == [3]  # one row for the first question, two for the second
    for (ctx, conts), row in zip(mixed, scores, strict=True):
        assert row == pytest.approx([reference_loglik(backend, ctx, cont) for cont in conts], abs=1e-4)


def test_left_truncation_to_max_length(tiny_model_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    backend = HFBackend(str(tiny_model_dir), device="cpu", max_length=16)
    long_context = "The patient reports cough and fever. " * 20 + "Answer:"
    with caplog.at_level("WARNING"):
        [row] = backend.loglikelihood([(long_context, [" B", " C"])])
        backend.loglikelihood([("Answer:", [" B", " C"])])
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == ["1 of 1 prompts are longer than the model's 16 tokens and were cut from the left "
                        "(their beginning, e.g. the instruction or a demonstration, was not seen)"]  # fmt: skip
    tail = backend.encode(long_context)[-16:]
    with torch.inference_mode():
        logprobs = torch.log_softmax(backend.model(input_ids=torch.tensor([tail])).logits[0, -1].float(), -1)
    expected = [float(logprobs[backend.encode_pair(long_context, c)[1][0]]) for c in (" B", " C")]
    assert row == pytest.approx(expected, abs=1e-4)


def test_generation_is_batched_and_deterministic(tiny_model_dir: Path) -> None:
    backend = HFBackend(str(tiny_model_dir), batch_size=2, device="cpu")
    prompts = [
        Prompt(messages=[], text=t) for t in ("Hello", "A much longer prompt about metformin dosing", "Yes")
    ]
    batched = backend.generate(prompts, max_new_tokens=6)
    one_by_one = [backend.generate([p], max_new_tokens=6)[0] for p in prompts]
    assert batched == one_by_one
    chat = Prompt(messages=[{"role": "user", "content": "hi"}], text=None)
    assert backend.prompt_text(chat).endswith("<|assistant|>\n")


def test_pad_token_falls_back_to_eos(tiny_model_dir: Path, tmp_path: Path) -> None:
    import shutil

    from transformers import AutoTokenizer

    model_dir = tmp_path / "nopad"
    shutil.copytree(tiny_model_dir, model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.pad_token = None
    tokenizer.save_pretrained(model_dir)
    backend = HFBackend(str(model_dir), device="cpu", batch_size=2)
    assert backend.tokenizer.pad_token_id == backend.tokenizer.eos_token_id
    assert len(backend.generate([Prompt([], "a"), Prompt([], "longer text")], max_new_tokens=2)) == 2


def test_adapters_unmerged_over_one_base(tiny_model_dir: Path, adapter_dirs: tuple[Path, Path]) -> None:
    a, b = adapter_dirs
    plain = HFBackend(str(tiny_model_dir), device="cpu")
    base_scores = plain.loglikelihood(REQUESTS)
    backend = HFBackend(str(tiny_model_dir), adapters=[str(a), f"second={b}"], device="cpu")
    assert backend.variants() == [None, "lora-a", "second"]
    from peft import PeftModel

    assert isinstance(backend.model, PeftModel)  # one base, adapters attached, not merged
    results = {}
    for variant in backend.variants():
        backend.set_variant(variant)
        results[variant] = backend.loglikelihood(REQUESTS)
    assert flat(results[None]) == pytest.approx(flat(base_scores), abs=1e-5)
    for variant in ("lora-a", "second"):
        assert results[variant][0] != pytest.approx(base_scores[0], abs=1e-3)
    assert results["lora-a"][0] != pytest.approx(results["second"][0], abs=1e-3)
    backend.set_variant(None)  # switching back gives the bare base again
    assert flat(backend.loglikelihood(REQUESTS)) == pytest.approx(flat(base_scores), abs=1e-5)
    with pytest.raises(ConfigError, match="unknown adapter"):
        backend.set_variant("nope")


def test_bad_model_path_is_a_clear_error(tmp_path: Path) -> None:
    from bioinstruct.errors import BioInstructError

    # Checked before transformers' "Repo id must be in the form ..." (bioinstruct.argparsing).
    with pytest.raises(BioInstructError, match="missing': no such folder, and not a Hub id"):
        HFBackend(str(tmp_path / "missing"), device="cpu")


def test_stop_strings_end_a_row_early_with_the_same_text(tiny_model_dir: Path) -> None:
    from bioinstruct.evaluation.backends import cut_at_stop

    backend = HFBackend(str(tiny_model_dir), batch_size=2, device="cpu")
    prompts = [Prompt(messages=[], text=t) for t in ("Hello", "Metformin dosing")]
    full = backend.generate(prompts, max_new_tokens=16)
    stop = next(text[len(text) // 2 : len(text) // 2 + 2] for text in full if len(text.strip()) > 4)
    assert backend.generate(prompts, max_new_tokens=16, stop=[stop]) == [
        cut_at_stop(t, [stop]).strip() for t in full
    ]
