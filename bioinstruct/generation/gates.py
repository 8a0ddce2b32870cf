"""The optional medical quality gates of a run: answer review and the patient-identifier screen.

Why one module: both gates are configured by ``GenerateConfig`` fields, must be refused before the
first request when they cannot work (a threshold out of range, a reviewer with no price under a
dollar cap, a broken review template), must not change between sessions of one run (the counts
would mix two policies), and add their own columns, run.json counts and card section. The gates
themselves are :mod:`~bioinstruct.generation.review` and :mod:`~bioinstruct.generation.identifiers`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bioinstruct.errors import ConfigError, did_you_mean
from bioinstruct.generation.config import GenerateConfig
from bioinstruct.generation.prompting import load_template
from bioinstruct.generation.review import ACTIONS as REVIEW_ACTIONS
from bioinstruct.generation.review import GATE, REVIEW_TEMPLATE, review_distribution
from bioinstruct.llm.client import TeacherClient
from bioinstruct.llm.pricing import load_price_table, resolve_price

if TYPE_CHECKING:
    from bioinstruct.generation.identifiers import IdentifierScreen

#: the settings a resumed run must keep (run.json ``config``)
RESUME_FIXED = ("review", "review_model", "review_threshold", "review_action", "screen_identifiers")


def reviewer_model(config: GenerateConfig) -> str:
    return config.review_model or config.teacher_model


def check_gates(config: GenerateConfig, prices: Mapping[str, Mapping[str, float]] | None) -> None:
    """Refuse a gate configuration that cannot work, in one line, before anything runs."""
    if config.review_action not in REVIEW_ACTIONS:
        raise ConfigError(
            f"review_action={config.review_action!r} is not one of {', '.join(REVIEW_ACTIONS)}"
            + did_you_mean(config.review_action, REVIEW_ACTIONS)
        )
    identifier_screen(config)  # an unknown action is refused by the screen, with did-you-mean
    if not config.review:
        named = [n for n in ("review_model", "review_base_url", "review_template") if getattr(config, n)]
        if named:
            raise ConfigError(f"{named[0]} was given but review is off; add --review (review: true)")
        return
    if not isinstance(config.review_threshold, int) or not 1 <= config.review_threshold <= 5:
        raise ConfigError(f"review_threshold={config.review_threshold!r} is out of range (an integer 1-5)")
    model = reviewer_model(config)
    if (
        config.max_cost_usd is not None
        and resolve_price(model, {**load_price_table()["models"], **(prices or {})}) is None
    ):
        raise ConfigError(
            f"reviewer model {model!r} has no known price, so max_cost_usd cannot cap its cost; pass its price "
            f'(prices={{"{model}": {{"input": USD_PER_1M, "output": USD_PER_1M}}}}) or drop max_cost_usd'
        )
    load_template(config.review_template, REVIEW_TEMPLATE)  # a syntax error is one line now


def _policy(settings: Mapping[str, Any]) -> dict[str, Any]:
    review = bool(settings.get("review"))
    fixed = RESUME_FIXED[1:4] if review else ()
    return {
        "review": review,
        **{k: settings.get(k) for k in fixed},
        "screen_identifiers": settings.get("screen_identifiers"),
    }


def check_resume(output_dir: Any, previous: Mapping[str, Any], config: GenerateConfig) -> None:
    """A resumed run keeps its gates: its counts and columns describe one policy (``previous`` is
    the last session's run.json ``config``; runs from before the gates had none)."""
    if not previous:
        return
    before, now = _policy(previous), _policy(gate_settings(config, None))
    for name, value in now.items():
        if before.get(name) != value:
            raise ConfigError(
                f"{output_dir} was generated with {name}={before.get(name)!r}, now {value!r}; resume with the "
                "same setting, or use a new output_dir"
            )


def gate_settings(config: GenerateConfig, reviewer_url: str | None) -> dict[str, Any]:
    """run.json ``config`` entries of the gates (never a key: the URL has credentials stripped)."""
    review = (
        {
            "review_model": reviewer_model(config),
            "review_base_url": reviewer_url,
            "review_threshold": config.review_threshold,
            "review_action": config.review_action,
        }  # fmt: skip
        if config.review
        else {}
    )
    return {"review": config.review, **review, "screen_identifiers": config.screen_identifiers}


def identifier_screen(config: GenerateConfig) -> IdentifierScreen | None:
    if not config.screen_identifiers:
        return None
    from bioinstruct.generation.identifiers import IdentifierScreen

    return IdentifierScreen(config.screen_identifiers)


def reviewer_client(
    config: GenerateConfig, teacher: TeacherClient, api_key: str | None, prices: Any
) -> TeacherClient | None:
    """The reviewer's client: the teacher's own when it is the same model at the same endpoint (one
    pacer, one ledger), else a client of its own whose spend counts against the same cap."""
    if not config.review:
        return None
    model = reviewer_model(config)
    if model == teacher.model and config.review_base_url in (None, config.base_url):
        return teacher
    reviewer = TeacherClient(
        model,
        base_url=config.review_base_url or config.base_url,
        api_key=api_key,
        max_concurrency=config.max_concurrency,
        max_cost_usd=config.max_cost_usd,
        timeout=config.request_timeout,
        max_retries=config.max_retries,
        prices=prices,
    )
    teacher.share_budget(reviewer)
    return reviewer


def quality_summary(
    config: GenerateConfig, rows: list[dict[str, Any]], rejected: Mapping[str, int]
) -> dict[str, Any] | None:
    """run.json's ``quality``: the review score distribution and drops, identifier counts by kind."""
    if not (config.review or config.screen_identifiers):
        return None
    summary: dict[str, Any] = {}
    if config.review:
        summary["review"] = {
            "model": reviewer_model(config),
            "threshold": config.review_threshold,
            "action": config.review_action,
            "dropped": int(rejected.get(GATE, 0)),
            "distribution": review_distribution(rows),
        }
    if config.screen_identifiers:
        kinds = Counter(found["kind"] for row in rows for found in row.get("identifiers") or [])
        summary["identifiers"] = {
            "action": config.screen_identifiers,
            "rows_with_identifiers": sum(bool(row.get("identifiers")) for row in rows),
            "by_kind": dict(sorted(kinds.items())),
            "dropped": int(rejected.get("patient_identifiers", 0)),
        }
    return summary


def extra_features(config: GenerateConfig) -> dict[str, Any]:
    """The dataset columns the gates add (``review``, ``identifiers``)."""
    import datasets

    text, number = datasets.Value("string"), datasets.Value("int64")
    features: dict[str, Any] = {}
    if config.review:
        features["review"] = {
            "correctness": number, "completeness": number, "safety": number, "rationale": text,
            "reviewer": text, "passed": datasets.Value("bool"),
        }  # fmt: skip
    if config.screen_identifiers in ("flag", "redact"):
        features["identifiers"] = datasets.List(
            {"kind": text, "field": text, "start": number, "end": number, "text": text}
        )
    return features
