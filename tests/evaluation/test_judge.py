"""The LLM judge against a real local OpenAI-protocol server: good, malformed and out-of-range replies."""

from __future__ import annotations

import asyncio
import json

import pytest

from bioinstruct.errors import BioInstructError, ConfigError
from bioinstruct.evaluation.judge import (
    CACHE_FILE,
    Judge,
    JudgeParseError,
    example_scores,
    parse_scores,
    resolve_endpoint,
)
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
        # What SmolLM2-135M-Instruct wrote to the placeholder prompt (transformers serve, 40 tokens).
        (
            "I'm sorry for the confusion. I'm here to help you with your medical task. I'm a medical AI, "
            "and I can help with any medical task you have. I'm here to assist",
            "no JSON object",
        ),
        (
            "The response is logically organised, consistent with itself and with the question, and stays "
            "on topic. The response is fluent, natural text that a clinician would write.",
            "no JSON object",
        ),
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
    # The answer's form, with placeholders: no numbers a judge could copy as its verdict.
    assert before.endswith('{"coherence": <score>, "completeness": <score>, "naturalness": <score>}')
    assert example_scores(before, AXES) == []
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
    # The last raw reply is kept for every item, also (above all) for the unscored one.
    assert (
        result.replies[0] == GOOD
        and result.replies[3] == '{"coherence": 9, "completeness": 4, "naturalness": 3}'
    )
    assert result.n_scored == 3 and result.copied == [False] * 4


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


# What SmolLM2-135M-Instruct replied to the old prompt, whose example read 4/4/4 (issue 11).
ANCHORED = '{"coherence": 4, "completeness": 4, "naturalness": 4}'


def test_a_copied_placeholder_form_is_a_parse_failure():
    form = '{"coherence": <score>, "completeness": <score>, "naturalness": <score>}'
    with pytest.raises(JudgeParseError, match="copies the answer form"):
        parse_scores(form, AXES)
    with pytest.raises(JudgeParseError, match="copies the answer form"):
        parse_scores('{"coherence": <integer 1-5>, "completeness": 3, "naturalness": 3}', AXES)


def test_copies_of_a_numeric_example_are_flagged(openai_server, tmp_path):
    """A user's template that still shows numbers: a verbatim copy is kept but flagged and counted."""
    template = tmp_path / "judge.jinja"
    template.write_text(
        "Rate {{ prediction }} against {{ reference }} on {{ axes | join(', ') }}. Example: " + ANCHORED,
        encoding="utf-8",
    )
    server = openai_server(lambda request: Reply(ANCHORED))
    result = _judge(server, tmp_path, template=template).score("meqsum", ITEMS[:2])
    assert result.copied == [True, True] and result.protocol["judge_copied_example"] == 2
    assert example_scores(ANCHORED, AXES) == [dict.fromkeys(AXES, 4)]


def test_the_judge_says_where_the_data_goes_before_the_first_request(openai_server, tmp_path, caplog):
    server = openai_server(_responder)
    with caplog.at_level("WARNING", logger="bioinstruct.evaluation.judge"):
        _judge(server, tmp_path).score("meqsum", ITEMS[:1])
    notices = [r.getMessage() for r in caplog.records if "sending benchmark questions" in r.getMessage()]
    assert len(notices) == 1 and server.base_url.split("//")[1].split("/")[0] in notices[0]
    assert SECRET not in caplog.text


def test_endpoint_defaults_to_the_evaluation_server_never_silently_to_openai(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    local = "http://127.0.0.1:8000/v1"
    url, line = resolve_endpoint(None, local)
    assert url == local and "127.0.0.1:8000" in line and "evaluation endpoint" in line
    with pytest.raises(ConfigError, match="api.openai.com") as info:
        resolve_endpoint(None, None)
    assert "--judge-base-url" in str(info.value)
    url, line = resolve_endpoint("https://api.openai.com/v1", local)
    assert url == "https://api.openai.com/v1" and "a different host from the evaluation endpoint" in line
    monkeypatch.setenv("OPENAI_BASE_URL", "http://10.0.0.2:9000/v1")
    url, line = resolve_endpoint(None, None)
    assert url == "http://10.0.0.2:9000/v1" and "OPENAI_BASE_URL" in line
    url, _ = resolve_endpoint(None, local)
    assert url == local  # the evaluation endpoint the user named wins over the environment
    # Credentials in a URL never reach the line.
    _, line = resolve_endpoint("http://user:sk-SECRET@127.0.0.1:8000/v1?key=sk-SECRET", None)
    assert "sk-SECRET" not in line
