"""--protocol cot: the extraction rule on what models write, unparseable counting, self-consistency
voting (over a real local OpenAI-protocol server), cache keys per protocol and setting, the
`loglik,cot` results and gap table end to end on the tiny model, and a real small model (slow)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from bioinstruct.cli import main
from bioinstruct.errors import ConfigError
from bioinstruct.evaluation.cot import EXTRACTION_RULE, extract_answer, render_cot, vote
from bioinstruct.evaluation.evaluator import Evaluator
from bioinstruct.evaluation.prompting import Prompt
from bioinstruct.evaluation.protocols import parse_protocols
from bioinstruct.evaluation.report import EvalResults
from bioinstruct.testing.openai_server import Reply

LETTERS = ["A", "B", "C", "D"]
YES_NO = ["yes", "no", "maybe"]


# -- the extraction rule ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ("The patient has heat stroke, so cooling comes first.\nAnswer: B", LETTERS, "B"),
        ("Option A is tempting. But the answer is B.\nOn reflection, the answer is D.\nAnswer: D", LETTERS, "D"),
        ("Answer: A\n\nWait, that ignores the fever. Answer: C", LETTERS, "C"),  # the last statement wins
        ("answer: b", LETTERS, "B"),
        ("The correct answer is (B) Rapid cold water immersion.", LETTERS, "B"),
        ("**Answer:** **C**", LETTERS, "C"),
        ("**Answer: C**", LETTERS, "C"),
        ("Putting it together...\n\nFinal answer: $\\boxed{A}$", LETTERS, "A"),
        ("ANSWER: D) Head CT", LETTERS, "D"),
        ("The answer is: [A]", LETTERS, "A"),
        ("Thus the answer is option C.", LETTERS, "C"),
        ("The answer is B because dantrolene treats malignant hyperthermia, not heat stroke.", LETTERS, "B"),
        ("Answer: (a)", LETTERS, "A"),
        ("Step 1: core temperature 41.2 C.\nStep 2: cool the patient.\n\n**B**", LETTERS, "B"),
        ("Ｂ is wrong.\nAnswer: Ｃ", LETTERS, "C"),  # full-width letters (NFKC)
        # no answer, or none the rule can read: unparseable, never guessed
        ("Heat stroke needs cooling. Dantrolene is for malignant hyperthermia.", LETTERS, None),
        ("The answer is a combination of cooling and fluids.", LETTERS, None),  # the article, not A
        ("So the answer is B or C.", LETTERS, None),
        ("Answer: B/C", LETTERS, None),
        ('I will give my final answer as "Answer: X", where X is A, B, C or D.', LETTERS, None),
        ("A. Oral fluids\nB. Rapid cold water immersion\nC. Intravenous dantrolene", LETTERS, None),
        ("", LETTERS, None),
        # word labels (PubMedQA, BioASQ)
        ("The trial found a benefit.\nAnswer: Yes", YES_NO, "yes"),
        ("The evidence is mixed, so the answer is maybe.", YES_NO, "maybe"),
        ("Answer: **no**", YES_NO, "no"),
        ("Answer: yes or no, depending on the dose", YES_NO, None),
    ],
)  # fmt: skip
def test_the_extraction_rule_on_model_replies(text: str, labels: list[str], expected: str | None) -> None:
    got = extract_answer(text, labels)
    assert (labels[got.index] if got.index is not None else None) == expected, got
    assert (got.reason is None) == (expected is not None)


def test_the_rule_is_stated_in_words_that_match_what_it_does() -> None:
    for phrase in ('the last "Answer: X"', "unparseable and counted wrong", "never guessed", '"B or C"'):
        assert phrase in EXTRACTION_RULE
    assert extract_answer("Answer: B\nAnswer: C", LETTERS).span == "Answer: C"


def test_self_consistency_vote_ties_and_agreement() -> None:
    assert vote([1, 2, None, 2, 1]) == (1, 0.4)  # a tie goes to the answer that came first
    assert vote([3, 3, 0]) == (3, pytest.approx(2 / 3))
    assert vote([None, None]) == (None, 0.0)  # no parseable sample: unparseable


def test_the_cot_prompt_comes_from_the_prompts_file(fixtures_dir: Path) -> None:
    from bioinstruct.benchmarks import get_benchmark

    bench = get_benchmark("pubmedqa")
    item = bench.items(bench.load_rows(fixtures_dir / "pubmedqa.jsonl"))[0]
    chat = render_cot(item, "chat").messages[-1]["content"]
    assert chat.startswith(item.instruction) and item.input in chat
    assert chat.endswith(
        'give your final answer on the last line as "Answer: X", where X is yes, no or maybe.'
    )
    plain = render_cot(item, "plain").text or ""
    assert plain.startswith("Abstract: ") and plain.endswith("Let's think step by step.")
    assert "### Input:" in (render_cot(item, "bioinstruct").text or "")


# -- bad input -----------------------------------------------------------------------------------------
def test_protocol_lists() -> None:
    assert parse_protocols("loglik,cot") == ("loglik", "cot")
    assert parse_protocols(" cot , LOGLIK,cot") == ("cot", "loglik")
    assert parse_protocols(["generate"]) == ("generate",) and parse_protocols("all") == ("all",)
    assert parse_protocols(None) is None
    with pytest.raises(
        ConfigError, match=r"unknown protocol 'cto' in --protocol 'loglik,cto'.*did you mean 'cot'"
    ):
        parse_protocols("loglik,cto")


@pytest.mark.parametrize(
    ("flags", "phrases"),
    [
        (["--protocol", "cto"], ["unknown protocol 'cto'", "did you mean 'cot'?"]),
        (["--cot-samples", "0"], ["cot_samples must be >= 1", "got 0"]),
        (["--protocol", "cot", "--cot-samples", "4", "--cot-temperature", "0"], ["cot_temperature 0"]),
        (["--cot-template", "chta"], ["unknown cot_template 'chta'", "did you mean 'chat'?"]),
        (["--protocol", "cot", "--num-fewshot", "2"], ["--protocol cot is zero-shot", "'medqa' would get 2"]),
        (["--protocol", "cot", "--benchmarks", "meqsum"], ["'meqsum' is a generation benchmark", "cot is for multiple choice"]),
    ],
    ids=["typo", "zero-samples", "greedy-samples", "template-typo", "few-shot", "generation-benchmark"],
)  # fmt: skip
def test_a_bad_cot_setting_is_one_line_and_exit_2(
    flags: list[str], phrases: list[str], fixtures_dir: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "out"
    argv = ["evaluate", "--model", str(tmp_path / "no-model"), "--benchmarks", "medqa", "--output-dir", str(out),
            "--data-file", f"medqa={fixtures_dir / 'medqa.jsonl'}", "--data-file", f"meqsum={fixtures_dir / 'meqsum.jsonl'}",
            "--fewshot-file", f"medqa={fixtures_dir / 'medqa.jsonl'}", *flags]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for phrase in phrases:
        assert phrase in err, (phrase, err)
    assert not out.exists()


def test_a_yaml_cot_samples_0_is_refused(tmp_path: Path, capsys) -> None:
    config = tmp_path / "eval.yaml"
    config.write_text("model: m\nbenchmarks: medqa\nprotocol: loglik,cot\ncot_samples: 0\n", encoding="utf-8")
    assert main(["evaluate", "--config", str(config), "--output-dir", str(tmp_path / "out")]) == 2
    assert "cot_samples must be >= 1" in capsys.readouterr().err


# -- a scripted backend: counting, voting, caching ------------------------------------------------------
class CotBackend:
    """Log-likelihoods that always prefer A; replies scripted per call (``reply(prompt_text, sample_index)``)."""

    supports_loglikelihood = True
    has_chat_template = False
    model_name = "scripted"

    def __init__(self, reply: Any) -> None:
        self.reply = reply
        self.calls: list[tuple[str, int, dict]] = []  # (kind, number of prompts, settings)

    def variants(self) -> list[str | None]:
        return [None]

    def set_variant(self, adapter: str | None) -> None:
        pass

    def prompt_text(self, prompt: Prompt) -> str:
        return prompt.text or prompt.messages[-1]["content"]

    def loglikelihood(
        self, requests: Sequence[tuple[str, Sequence[str]]], progress: Any = None
    ) -> list[list[float]]:
        self.calls.append(("loglik", len(requests), {}))
        return [[0.0] + [-1.0] * (len(conts) - 1) for _, conts in requests]

    def generate(
        self,
        prompts: Sequence[Prompt],
        *,
        max_new_tokens: int,
        stop: Sequence[str] = (),
        progress: Any = None,
    ) -> list[str]:
        self.calls.append(("generate", len(prompts), {"max_new_tokens": max_new_tokens}))
        return [self.reply(self.prompt_text(p), 0) for p in prompts]

    def sample(
        self,
        prompts: Sequence[Prompt],
        *,
        n: int,
        temperature: float,
        max_new_tokens: int,
        stop: Sequence[str] = (),
        seed: int = 0,
        progress: Any = None,
    ) -> list[list[str]]:
        self.calls.append(("sample", len(prompts), {"n": n, "temperature": temperature}))
        return [[self.reply(self.prompt_text(p), j) for j in range(n)] for p in prompts]

    def info(self) -> dict[str, Any]:
        return {"backend": "scripted"}

    def close(self) -> None:
        pass  # fmt: skip


def _rows(fixtures_dir: Path) -> list[dict]:
    return [
        json.loads(line) for line in (fixtures_dir / "medqa.jsonl").read_text(encoding="utf-8").splitlines()
    ]


def _script(fixtures_dir: Path, replies: list[str]) -> Any:
    """A reply per question: ``replies[i]`` (``{gold}``, ``{wrong}`` filled) for the i-th fixture row."""
    rows = _rows(fixtures_dir)[: len(replies)]

    def reply(text: str, _: int) -> str:
        index, row = next((i, r) for i, r in enumerate(rows) if r["question"] in text)
        wrong = "ABCD"[("ABCD".index(row["answer_idx"]) + 1) % 4]
        return replies[index].format(gold=row["answer_idx"], wrong=wrong)

    return reply


def _run(
    backend: Any, fixtures_dir: Path, limit: int, cache: Path | None = None, **options: Any
) -> EvalResults:
    return Evaluator("m", backend=backend, cache_dir=cache, progress=False).run(
        "medqa", limit=limit, data_files={"medqa": str(fixtures_dir / "medqa.jsonl")}, **options
    )


def test_unparseable_cot_replies_are_counted_reported_and_wrong(fixtures_dir: Path) -> None:
    replies = ["Cooling first.\nAnswer: {gold}", "The answer is ({gold}).", "It could be {gold} or {wrong}.",
               "I am not sure.", "Answer: {wrong}", "Answer: {gold} or {wrong}"]  # fmt: skip
    results = _run(CotBackend(_script(fixtures_dir, replies)), fixtures_dir, 6, protocol="loglik,cot")
    cot = results.get("medqa", protocol="cot")
    assert cot.metrics["accuracy"] == pytest.approx(2 / 6) and cot.unparseable == 3
    assert cot.diagnostics["unparseable_share"] == pytest.approx(0.5)
    assert [s["prediction"] for s in cot.samples][2:4] == [None, None]
    assert cot.samples[3]["unparseable"] == 'no final "Answer: X" statement'
    assert cot.samples[5]["unparseable"] == "hedges between options"
    assert cot.samples[0]["extracted"].startswith("Answer: ") and cot.samples[0]["correct"]
    assert cot.protocol["cot"]["extraction_rule"] == EXTRACTION_RULE
    assert cot.protocol["template"] == "bioinstruct" and cot.protocol["chat_template"] is None
    text = results.to_markdown()
    assert "  - m: 3 of 6 answers unparseable (counted wrong), 50.0%" in text
    assert f"answer extraction: {EXTRACTION_RULE}" in text
    assert any("50% of the replies state no parseable answer" in line for line in cot.warnings)


def test_self_consistency_over_an_openai_compatible_endpoint(
    openai_server, fixtures_dir: Path, tmp_path: Path
) -> None:
    rows = {row["question"]: row for row in _rows(fixtures_dir)}

    def responder(request: dict) -> Reply:  # per item: replies differ by the sample's seed
        prompt = request["messages"][-1]["content"]
        row = next(r for q, r in rows.items() if q in prompt)
        gold = row["answer_idx"]
        wrong = "ABCD"[("ABCD".index(gold) + 1) % 4]
        j = request["seed"] % 4
        return Reply(["Reasoning.\nAnswer: " + gold, f"Answer: {wrong}", "Hmm.", f"The answer is {gold}."][j])

    server = openai_server(responder)
    options = {"base_url": server.base_url, "api_key": "local"}

    def run(**cot: Any) -> EvalResults:
        evaluator = Evaluator(
            "served", backend="openai", cache_dir=tmp_path, progress=False, backend_options=options
        )
        return evaluator.run("medqa", limit=3, data_files={"medqa": str(fixtures_dir / "medqa.jsonl")},
                             protocol="cot", cot_samples=4, cot_max_new_tokens=64, **cot)  # fmt: skip

    result = run().get("medqa")
    assert len(server.requests) == 12 and {r["temperature"] for r in server.requests} == {0.7}
    assert len({r["seed"] for r in server.requests}) == 12 and {r["max_tokens"] for r in server.requests} == {
        64
    }
    assert server.requests[0]["messages"][-1]["content"].endswith("where X is A, B, C or D.")  # chat messages
    # Each item's 4 seeds are consecutive: one reply of each kind, so gold 2, wrong 1, unparseable 1.
    gold = _rows(fixtures_dir)[0]["answer_idx"]
    wrong = "ABCD"[("ABCD".index(gold) + 1) % 4]
    first = result.samples[0]
    assert len(first["outputs"]) == 4 and first["votes"] == {gold: 2, wrong: 1, "(unparseable)": 1}
    assert (
        first["prediction"] == gold
        and first["agreement"] == 0.5
        and first["sample_predictions"].count(None) == 1
    )
    assert result.metrics["accuracy"] == 1.0 and result.unparseable == 0
    assert result.diagnostics["cot_agreement"] == 0.5 and result.diagnostics["cot_unparseable_samples"] == 3
    assert result.protocol["cot"]["samples"] == 4 and result.protocol["cot"]["temperature"] == 0.7
    assert result.protocol["template"] == "chat" and "endpoint" in result.protocol["chat_template"]
    assert "mean agreement with the vote" in EvalResults([result]).to_markdown()
    run()  # everything from the cache
    assert len(server.requests) == 12
    run(cot_temperature=0.9)  # another setting: drawn again
    assert len(server.requests) == 24 and {r["temperature"] for r in server.requests[12:]} == {0.9}
    with pytest.raises(ConfigError, match="cannot score log-likelihoods; use --protocol generate or cot"):
        Evaluator("served", backend="openai", progress=False, backend_options=options).run(
            "medqa", limit=1, data_files={"medqa": str(fixtures_dir / "medqa.jsonl")}, protocol="loglik,cot"
        )


def test_all_on_a_chat_endpoint_runs_what_it_offers(openai_server, fixtures_dir: Path) -> None:
    server = openai_server(lambda request: Reply("Answer: B"))
    results = Evaluator("served", backend="openai", progress=False,
                        backend_options={"base_url": server.base_url, "api_key": "local"}).run(
        "medqa", limit=2, data_files={"medqa": str(fixtures_dir / "medqa.jsonl")}, protocol="all")  # fmt: skip
    assert [r.protocol_name for r in results.results] == ["generate", "cot"]


def test_the_cache_keys_on_protocol_and_cot_settings(fixtures_dir: Path, tmp_path: Path) -> None:
    backend = CotBackend(_script(fixtures_dir, ["Answer: {gold}"] * 4))

    def kinds(**options: Any) -> list[tuple[str, int]]:
        backend.calls.clear()
        _run(backend, fixtures_dir, 4, tmp_path, **options)
        return [(kind, n) for kind, n, _ in backend.calls]

    assert kinds(protocol="loglik,cot") == [("loglik", 4), ("generate", 4)]
    assert kinds(protocol="loglik,cot") == []  # a rerun computes nothing
    assert kinds(protocol="cot") == [] and kinds() == []  # each protocol reads its own entries
    assert kinds(protocol="loglik,cot", cot_max_new_tokens=256) == [("generate", 4)]  # loglik reused
    assert kinds(protocol="cot", cot_samples=3) == [("sample", 4)]
    assert kinds(protocol="cot", cot_samples=3, cot_temperature=1.0) == [("sample", 4)]
    assert kinds(protocol="cot", cot_samples=3, seed=1) == [("sample", 4)]  # the sampling seed
    assert kinds(protocol="cot", cot_template="plain") == [("generate", 4)]  # another prompt
    assert kinds(protocol="cot", cot_samples=3) == []
    assert kinds(protocol="generate") == [("generate", 4)]


def test_a_backend_that_cannot_sample_is_refused(fixtures_dir: Path) -> None:
    greedy_only = type("GreedyOnly", (), {k: v for k, v in vars(CotBackend).items() if k != "sample"})
    with pytest.raises(ConfigError, match="cannot sample"):
        _run(
            greedy_only(_script(fixtures_dir, ["Answer: {gold}"])),
            fixtures_dir,
            1,
            protocol="cot",
            cot_samples=2,
        )


# -- the tiny model, end to end --------------------------------------------------------------------------
def test_tiny_model_loglik_and_cot_in_one_call(
    tiny_model_dir: Path, fixtures_dir: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "eval"
    argv = ["evaluate", "--model", str(tiny_model_dir), "--benchmarks", "medqa,pubmedqa", "--limit", "3",
            "--data-file", f"medqa={fixtures_dir / 'medqa.jsonl'}", "--data-file", f"pubmedqa={fixtures_dir / 'pubmedqa.jsonl'}",
            "--protocol", "loglik,cot", "--cot-max-new-tokens", "8", "--device", "cpu", "--output-dir", str(out)]  # fmt: skip
    assert main(argv) == 0
    data = json.loads((out / "results.json").read_text())
    assert [(r["benchmark"], r["protocol"]["name"]) for r in data["results"]] == [
        ("medqa", "loglik"), ("medqa", "cot"), ("pubmedqa", "loglik"), ("pubmedqa", "cot")]  # fmt: skip
    cot = data["results"][1]["protocol"]
    assert cot["protocol"] == "chain-of-thought" and cot["template"] == "chat"  # the model's own template
    assert (
        cot["chat_template"].startswith("the tokenizer's chat template (")
        and "sha256" in cot["chat_template"]
    )
    assert (
        cot["cot"]["max_new_tokens"] == 8 and cot["cot"]["samples"] == 1 and cot["cot"]["temperature"] is None
    )
    assert data["results"][0]["protocol"]["template"] == "bioinstruct"  # loglik keeps --template
    gaps = data["protocol_gaps"]
    assert [(g["benchmark"], g["paired_items"]) for g in gaps] == [("medqa", 3), ("pubmedqa", 3)]
    assert gaps[0]["gap"] == pytest.approx(gaps[0]["cot"] - gaps[0]["loglik"]) and len(gaps[0]["gap_ci"]) == 2
    markdown = (out / "results.md").read_text()
    assert (
        "| benchmark | protocol | metric |" in markdown
        and "| medqa | chain-of-thought | accuracy |" in markdown
    )
    assert (
        "loglik vs CoT (" in markdown
        and "| benchmark | variant | loglik | CoT | gap | CoT unparseable |" in markdown
    )
    assert (
        "- **medqa** (cot): chain-of-thought; 0-shot; template 'chat' (the tokenizer's chat template"
        in markdown
    )
    rows = [json.loads(line) for line in (out / "samples" / "medqa.jsonl").read_text().splitlines()]
    assert [row["protocol"] for row in rows] == ["loglik"] * 3 + ["cot"] * 3
    assert "loglikelihoods" in rows[0] and "output" in rows[3] and "extracted" in rows[3]
    loaded = EvalResults.load(out)
    assert [s["id"] for s in loaded.get("medqa", protocol="cot").samples] == [row["id"] for row in rows[3:]]
    assert loaded.to_dict()["protocol_gaps"] == gaps
    # The rerun (evaluate.yaml) comes from the cache and writes the same numbers.
    capsys.readouterr()
    assert main(["evaluate", "--config", str(out / "evaluate.yaml")]) == 0
    assert json.loads((out / "results.json").read_text())["protocol_gaps"] == gaps


def test_tiny_model_sampling_is_seeded_per_prompt(tiny_model_dir: Path, fixtures_dir: Path) -> None:
    from bioinstruct.benchmarks import get_benchmark
    from bioinstruct.evaluation.backends.hf import HFBackend

    bench = get_benchmark("medqa")
    items = bench.items(bench.load_rows(fixtures_dir / "medqa.jsonl"))[:2]
    prompts = [render_cot(item, "chat") for item in items]
    backend = HFBackend(str(tiny_model_dir), device="cpu")
    both = backend.sample(prompts, n=3, temperature=1.0, max_new_tokens=6, seed=0)
    alone = backend.sample(prompts[1:], n=3, temperature=1.0, max_new_tokens=6, seed=0)
    assert len(both) == 2 and all(len(replies) == 3 for replies in both)
    assert alone[0] == both[1]  # an item's replies do not depend on the other prompts
    assert len(set(both[0])) > 1  # temperature sampling: the replies differ
    assert backend.sample(prompts[:1], n=3, temperature=1.0, max_new_tokens=6, seed=1)[0] != both[0]


# -- a real small model (slow) ---------------------------------------------------------------------------
@pytest.mark.slow
def test_real_small_model_loglik_vs_cot_on_medqa(
    small_model_dir: Path, fixtures_dir: Path, tmp_path: Path
) -> None:
    """SmolLM2-135M-Instruct on 8 MedQA fixture rows, `--protocol loglik,cot`: the structure, not the accuracy."""
    results = Evaluator(str(small_model_dir), progress=False, backend_options={"device": "cpu", "batch_size": 8}).run(
        "medqa", limit=8, data_files={"medqa": str(fixtures_dir / "medqa.jsonl")}, protocol="loglik,cot",
        cot_max_new_tokens=128)  # fmt: skip
    loglik, cot = results.get("medqa", protocol="loglik"), results.get("medqa", protocol="cot")
    assert loglik.n == cot.n == 8 and cot.protocol["template"] == "chat"
    assert "SmolLM2" in cot.protocol["chat_template"] and cot.unparseable is not None
    assert all(isinstance(s["output"], str) and s["output"] for s in cot.samples)
    assert sum(s["prediction"] is None for s in cot.samples) == cot.unparseable
    (gap,) = results.to_dict()["protocol_gaps"]
    out = results.save(tmp_path / "eval")
    table = [line for line in (out / "results.md").read_text().splitlines() if line.startswith("| medqa |")]
    print(f"\nSmolLM2-135M-Instruct, {cot.n} MedQA fixture rows: loglik {100 * gap['loglik']:.1f}, CoT "
          f"{100 * gap['cot']:.1f}, gap {100 * gap['gap']:+.1f} [{100 * gap['gap_ci'][0]:+.1f}, "
          f"{100 * gap['gap_ci'][1]:+.1f}], CoT unparseable {cot.unparseable} of {cot.n}")  # fmt: skip
    print("\n".join(table))
    for sample in cot.samples[:2]:
        print("---", sample["prediction"], repr(sample["output"][-200:]))
