"""The LLM judge against a real local OpenAI-protocol server: good, malformed and out-of-range replies."""

from __future__ import annotations

import asyncio
import json

import pytest

from bioinstruct.errors import BioInstructError, ConfigError
from bioinstruct.evaluation.judge import CACHE_FILE, Judge, JudgeParseError, parse_scores
from bioinstruct.testing.openai_server import Reply

AXES = ("coherence", "completeness", "naturalness")
SECRET = "sk-test-SECRETVALUE123456"
GOOD = '{"coherence": 5, "completeness": 4, "naturalness": 3}'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD, {"coherence": 5, "completeness": 4, "naturalness": 3}),
        (
            '```json\n{"Coherence": 2, "completeness": 2.0, "naturalness": 1}\n```',
            dict.fromkeys(AXES, 2) | {"naturalness": 1},
        ),
        (
            'Scores: {"coherence": 1, "completeness": 1, "naturalness": 1, "why": "short"}',
            dict.fromkeys(AXES, 1),
        ),
    ],
)
def test_parse_scores_accepts_strict_json(text, expected):
    assert parse_scores(text, AXES) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("I would give it a 4.", "no JSON object"),
        ('{"coherence": 5, "completeness": 4}', "missing score for 'naturalness'"),
        ('{"coherence": 6, "completeness": 4, "naturalness": 3}', "between 1 and 5"),
        ('{"coherence": 0, "completeness": 4, "naturalness": 3}', "between 1 and 5"),
        ('{"coherence": 4.5, "completeness": 4, "naturalness": 3}', "must be an integer"),
        ('{"coherence": "4", "completeness": 4, "naturalness": 3}', "must be an integer"),
        ('{"coherence": true, "completeness": 4, "naturalness": 3}', "must be an integer"),
        ('{"coherence": 4, completeness: 4}', "invalid JSON"),
        ("[4, 4, 4]", "no JSON object"),
    ],
)
def test_parse_scores_rejects_and_says_why(text, problem):
    with pytest.raises(JudgeParseError, match=problem):
        parse_scores(text, AXES)


def _judge(server, tmp_path, **kwargs):
    return Judge("gpt-4", base_url=server.base_url, api_key=SECRET, cache_dir=tmp_path / "judge", **kwargs)


def test_prompt_places_the_reference_as_configured(openai_server, tmp_path):
    server = openai_server(lambda request: Reply(GOOD))
    item = {"question": "QUESTION-TEXT", "prediction": "PREDICTION-TEXT", "reference": "REFERENCE-TEXT"}
    before = _judge(server, tmp_path).render(item, AXES)
    after = _judge(server, tmp_path, reference_position="after_response").render(item, AXES)
    assert before.index("QUESTION-TEXT") < before.index("REFERENCE-TEXT") < before.index("PREDICTION-TEXT")
    assert after.index("QUESTION-TEXT") < after.index("PREDICTION-TEXT") < after.index("REFERENCE-TEXT")
    assert before.endswith('{"coherence": 4, "completeness": 4, "naturalness": 4}')
    assert "- completeness: the response covers the clinically important content" in before
    no_reference = _judge(server, tmp_path).render({**item, "reference": None}, AXES)
    assert "[Reference answer]" not in no_reference and "Rate the response" in no_reference
    several = _judge(server, tmp_path).render({**item, "reference": ["first", "second"]}, AXES)
    assert "(Reference 1) first\n\n(Reference 2) second" in several
    with pytest.raises(ConfigError, match="reference_position"):
        _judge(server, tmp_path, reference_position="middle")


def _responder(request):
    """Scripted judge: the prediction text decides how it misbehaves."""
    messages = request["messages"]
    prompt = messages[0]["content"]
    if "GOOD-ANSWER" in prompt:
        return Reply(GOOD)
    if "FENCED-ANSWER" in prompt:
        return Reply('```json\n{"coherence": 3, "completeness": 2, "naturalness": 5}\n```')
    if "MALFORMED-ANSWER" in prompt:
        # Unparseable on the first try; valid once told what was wrong.
        return Reply("It is pretty good, 4/5.") if len(messages) == 1 else Reply(GOOD.replace("5", "4"))
    return Reply('{"coherence": 9, "completeness": 4, "naturalness": 3}')  # always out of range


ITEMS = [
    {"id": "a", "question": "q1", "prediction": "GOOD-ANSWER", "reference": "r1"},
    {"id": "b", "question": "q2", "prediction": "FENCED-ANSWER", "reference": "r2"},
    {"id": "c", "question": "q3", "prediction": "MALFORMED-ANSWER", "reference": "r3"},
    {"id": "d", "question": "q4", "prediction": "RANGE-ANSWER", "reference": "r4"},
]


def test_judge_scores_retries_and_never_guesses(openai_server, tmp_path):
    server = openai_server(_responder)
    judge = _judge(server, tmp_path)
    result = judge.score("mts_dialog", ITEMS)
    assert result.per_item == [
        {"coherence": 5, "completeness": 4, "naturalness": 3},
        {"coherence": 3, "completeness": 2, "naturalness": 5},
        {"coherence": 4, "completeness": 4, "naturalness": 3},
        {},
    ]
    assert result.summary == pytest.approx({"coherence": 4.0, "completeness": 10 / 3, "naturalness": 11 / 3})
    assert result.errors[:3] == [None, None, None]
    assert "no valid scores after 3 attempts" in result.errors[3] and "between 1 and 5" in result.errors[3]
    # 1 + 1 + 2 (one retry) + 3 (gave up) requests; the retry names the problem.
    assert len(server.requests) == 7
    retry = next(
        r for r in server.requests if "MALFORMED" in r["messages"][0]["content"] and len(r["messages"]) == 3
    )
    assert retry["messages"][1] == {"role": "assistant", "content": "It is pretty good, 4/5."}
    assert "no JSON object found" in retry["messages"][2]["content"]
    assert all(r["model"] == "gpt-4" and r["temperature"] == 0.0 for r in server.requests)
    # Cost from the price table (gpt-4 is priced), reported per benchmark and in the protocol.
    assert result.cost_usd > 0 and result.cost_usd == pytest.approx(judge.client.stats.cost_usd)
    protocol = result.protocol
    assert protocol["judge_model"] == "gpt-4" and protocol["judge_reference_position"] == "before_response"
    assert protocol["judge_axes"] == list(AXES) and len(protocol["judge_template_sha256"]) == 64
    assert "{{ prediction }}" in protocol["judge_prompt_template"]
    assert (protocol["judge_items"], protocol["judge_unscored"], protocol["judge_cache_hits"]) == (4, 1, 0)


def test_rerun_is_served_from_the_cache_at_no_cost(openai_server, tmp_path):
    server = openai_server(_responder)
    first = _judge(server, tmp_path).score("meqsum", ITEMS[:3])
    sent = len(server.requests)
    again = _judge(server, tmp_path).score("meqsum", ITEMS[:3])
    assert len(server.requests) == sent
    assert again.per_item == first.per_item and again.cost_usd == 0.0
    assert again.protocol["judge_cache_hits"] == 3
    lines = (tmp_path / "judge" / CACHE_FILE).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3 and all(len(json.loads(line)["key"]) == 64 for line in lines)
    # A different judge model is a different cache key.
    other = Judge("gpt-4o", base_url=server.base_url, api_key=SECRET, cache_dir=tmp_path / "judge")
    other.score("meqsum", ITEMS[:1])
    assert len(server.requests) == sent + 1


def test_secrets_never_reach_protocol_cache_or_repr(openai_server, tmp_path):
    server = openai_server(_responder)
    judge = _judge(server, tmp_path)
    result = judge.score("meqsum", ITEMS[:2])
    assert SECRET not in json.dumps(result.protocol)
    assert SECRET not in (tmp_path / "judge" / CACHE_FILE).read_text(encoding="utf-8")
    assert SECRET not in repr(judge)


def test_auth_failure_stops_with_a_clear_error(openai_server, tmp_path):
    server = openai_server(
        lambda request: Reply(status=401, body={"error": {"message": "Incorrect API key"}})
    )
    with pytest.raises(BioInstructError) as info:
        _judge(server, tmp_path).score("meqsum", ITEMS[:2])
    assert SECRET not in str(info.value)
    assert len(server.requests) <= 2  # no retry storm


def test_score_works_inside_a_running_event_loop(openai_server, tmp_path):
    server = openai_server(_responder)
    judge = _judge(server, tmp_path)

    async def caller():
        return judge.score("meqsum", ITEMS[:1])

    assert asyncio.run(caller()).per_item == [{"coherence": 5, "completeness": 4, "naturalness": 3}]


def test_axes_come_from_the_benchmark_unless_fixed(openai_server, tmp_path):
    server = openai_server(lambda request: Reply('{"correctness": 2}'))
    fixed = _judge(server, tmp_path, axes=("correctness",))
    assert fixed.score("meqsum", ITEMS[:1]).per_item == [{"correctness": 2}]
    assert "- correctness: the medical content" in server.requests[0]["messages"][0]["content"]
