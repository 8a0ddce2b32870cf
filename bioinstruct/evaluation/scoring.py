"""Raw model outputs -> a :class:`~bioinstruct.evaluation.report.BenchmarkResult` with its samples.

Why its own module: scoring is where a number's meaning is decided (which reply names which
choice, what counts as unparseable, which baselines it must beat), so it is kept apart from
running models and caching; it is pure and tested on what real models wrote.
"""

from __future__ import annotations

from typing import Any

from bioinstruct.benchmarks import Benchmark, Item
from bioinstruct.benchmarks import metrics as metric_fns
from bioinstruct.evaluation import cot, diagnostics
from bioinstruct.evaluation.answer_parsing import parse_answer
from bioinstruct.evaluation.protocols import PROTOCOL_WORDS
from bioinstruct.evaluation.report import BenchmarkResult


def score(
    bench: Benchmark,
    rows: list[dict],
    items: list[Item],
    texts: list[str],
    raw: list[Any],
    protocol: str,
    *,
    bertscore: tuple[str, int | None] | None = None,
) -> BenchmarkResult:
    """Score one benchmark's raw outputs (log-likelihoods or generated texts) into a result with samples.

    ``bertscore``: (model, layers) adds BERTScore to the ROUGE-scored (``metric: rouge``) benchmarks.
    """
    samples: list[dict[str, Any]] = []
    if bench.task == "multiple_choice":
        correct, chosen, unparseable, conflicts = [], [], 0, 0
        agreements: list[float] = []
        unparseable_samples = 0
        for item, text, output in zip(items, texts, raw, strict=True):
            labels = item.labels or []
            parsed = None
            reasoned = None
            if protocol == "loglik":
                choice = max(
                    range(len(output)), key=lambda c: (output[c], -c)
                )  # first maximum, as numpy argmax
            elif protocol == "cot":  # the final answer of a reasoned reply, by cot.EXTRACTION_RULE
                reasoned = cot.read_output(output, labels)
                choice = reasoned.index
                unparseable += choice is None
                unparseable_samples += reasoned.unparseable_samples
                if reasoned.agreement is not None:
                    agreements.append(reasoned.agreement)
            else:
                parsed = parse_answer(output, labels, item.choices, item.question)
                choice = parsed.index
                unparseable += choice is None
                conflicts += parsed.conflict is not None
            ok = choice == item.gold
            chosen.append(choice)
            correct.append(float(ok))
            sample = {
                "id": item.id,
                "prompt": text,
                "prediction": labels[choice] if choice is not None else None,
                "reference": labels[item.gold],
                "correct": ok,
            }
            if reasoned is not None:
                sample.update(reasoned.fields)
                if reasoned.reason:
                    sample["unparseable"] = reasoned.reason
            else:
                sample["loglikelihoods" if protocol == "loglik" else "output"] = output
            if parsed is not None and parsed.reason:
                sample["unparseable"] = parsed.reason
            if parsed is not None and parsed.conflict is not None:
                sample["letter_text_conflict"] = labels[parsed.conflict]  # the option its text quotes
            samples.append(sample)
        accuracy = metric_fns.accuracy(chosen, [item.gold for item in items])
        checks = diagnostics.choice_diagnostics(
            [s["prediction"] for s in samples],
            [s["reference"] for s in samples],
            [len(item.labels or []) for item in items],
        )
        if protocol == "generate":
            checks["letter_text_conflicts"] = conflicts
        if protocol == "cot":
            checks["unparseable_share"] = unparseable / len(items) if items else 0.0
            if agreements:  # self-consistency: how often the k samples agree with their vote
                checks["cot_agreement"] = sum(agreements) / len(agreements)
                checks["cot_unparseable_samples"] = unparseable_samples
        return BenchmarkResult(
            bench.name,
            "",
            None,
            {"accuracy": accuracy},
            len(items),
            "accuracy",
            unparseable if protocol in ("generate", "cot") else None,
            metric_fns.bootstrap_ci(correct),
            samples=samples,
            diagnostics=checks,
        )
    references = [item.reference for item in items]
    scores = (
        [bench.item_score(p, r, row) for p, r, row in zip(raw, references, rows, strict=True)]
        if bench.item_score
        else None
    )
    values = bench.corpus_metrics(list(raw), references, rows) if bench.corpus_metrics else {}
    if bertscore is not None and bench.metric == "rouge":
        # BERTScore takes one reference per item; a multi-reference item is scored against its first.
        single = [ref if isinstance(ref, str) else ref[0] for ref in references]
        values.update(
            metric_fns.bertscore(list(raw), single, model_type=bertscore[0], num_layers=bertscore[1])
        )
    if bench.primary_metric not in values and scores is not None:
        values[bench.primary_metric] = sum(scores) / len(scores)
    if bench.ci is not None:
        ci = bench.ci(list(raw), references, rows)
    else:
        ci = metric_fns.bootstrap_ci(scores) if scores else None
    for i, (item, text, output) in enumerate(zip(items, texts, raw, strict=True)):
        sample = {"id": item.id, "prompt": text, "prediction": output, "reference": item.reference}
        if scores is not None:
            sample["score"] = scores[i]
        samples.append(sample)
    return BenchmarkResult(
        bench.name,
        "",
        None,
        {k: float(v) for k, v in values.items()},
        len(items),
        bench.primary_metric,
        None,
        tuple(ci) if ci else None,
        samples=samples,
        diagnostics=diagnostics.text_diagnostics(list(raw)),
    )


def describe_scoring(bench: Benchmark, protocol: str, settings: cot.CotSettings) -> str:
    """How a prediction of ``bench`` is scored under ``protocol``, in words."""
    if bench.task == "generation":  # free text scored against the reference, not parsed to a choice
        return (
            f"greedy generation (up to {bench.max_new_tokens} new tokens) scored against the reference"
            f" ({bench.primary_metric} is the headline metric)"
        )
    scoring = PROTOCOL_WORDS[protocol][1]
    if protocol != "cot":
        return scoring
    if settings.sampling:
        return (
            f"{scoring}; self-consistency: {settings.samples} replies sampled at temperature {settings.temperature} "
            f"(up to {settings.max_new_tokens} new tokens each), {cot.VOTE_RULE}"
        )
    return f"{scoring}; one greedy reply of up to {settings.max_new_tokens} new tokens"


__all__ = ["describe_scoring", "score"]
