"""Self-tuning pacing: the client learns the server's limit from its x-ratelimit headers, or by AIMD
on 429s when it advertises nothing, follows a limit that changes mid-run, and never paces above
the limits the user typed."""

from __future__ import annotations

import asyncio
import math
import threading
import time

import pytest

from bioinstruct.llm.client import TeacherClient
from bioinstruct.llm.pacing import CUT, AdvertisedLimits, Pacer, parse_duration
from bioinstruct.testing.openai_server import LocalOpenAIServer
from bioinstruct.testing.rate_limited import RateLimitedTeacher

MESSAGES = [{"role": "user", "content": "Write one biomedical task."}]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1s", 1.0),
        ("6m0s", 360.0),
        ("20ms", 0.02),
        ("1h2m3.5s", 3723.5),
        ("0.5", 0.5),
        ("soon", None),
        ("", None),
    ],
)
def test_reset_durations_as_openai_writes_them(text, seconds):
    assert parse_duration(text) == (pytest.approx(seconds) if seconds is not None else None)


def test_headers_are_read_case_insensitively_and_a_spent_limit_means_wait():
    limits = AdvertisedLimits.from_headers(
        {"X-RateLimit-Limit-Requests": "500", "x-ratelimit-remaining-requests": "0",
         "x-ratelimit-reset-requests": "120ms", "x-ratelimit-limit-tokens": "30000",
         "x-ratelimit-remaining-tokens": "29000", "x-ratelimit-reset-tokens": "2s"}
    )  # fmt: skip
    assert (limits.requests, limits.tokens, limits.remaining_requests) == (500, 30000, 0)
    assert limits.wait() == pytest.approx(0.12)  # the requests are spent; the tokens are not
    assert AdvertisedLimits.from_headers({"content-type": "application/json"}) is None
    assert AdvertisedLimits.from_headers({"x-ratelimit-limit-requests": "lots"}) is None


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_aimd_ramps_cuts_once_per_burst_and_recovers_additively():
    clock = Clock()
    pacer = Pacer(start_rpm=60, clock=clock)
    assert (pacer.rpm, pacer.source, pacer.learning) == (60, "aimd", True)
    for step in range(1, 4):  # slow start: doubles each quarter second it is used to the full
        for _ in range(math.ceil(pacer.rpm / 240)):
            pacer.on_send()
        clock.now = step * 0.25
        pacer.on_reply(None)
    assert pacer.rpm == 480
    for _ in range(20):  # ~480/min sent since the last growth at t=0.75
        pacer.on_send()
    clock.now = 3.2
    pacer.on_refusal(None)
    pacer.on_refusal(None)  # the same burst: one cut
    assert pacer.rpm == pytest.approx(480 * CUT) and pacer.refusals == 2
    clock.now = 4.3
    pacer.on_reply(None)
    assert pacer.rpm == pytest.approx(480 * CUT * 1.05)  # additive now, not doubling
    pacer.on_send()
    clock.now = 10.0
    pacer.on_refusal(None)  # a refusal after sending far below the rate: cut from what was sent
    assert pacer.rpm == pytest.approx(max(6.0, 60 * 1 / 5.7 * CUT))


def test_headers_take_over_and_typed_limits_stay_ceilings():
    clock = Clock()
    pacer = Pacer(rpm_ceiling=300, clock=clock)
    assert (pacer.rpm, pacer.source) == (300, "limits")
    pacer.on_reply(AdvertisedLimits(1000, 90_000, 999, 89_000, 0.0, 0.0))
    assert (pacer.rpm, pacer.tpm, pacer.source, pacer.learning) == (
        300,
        pytest.approx(88_200),
        "headers",
        False,
    )
    pacer.on_reply(AdvertisedLimits(200, None, 150, None, 1.0, None))  # the account's limit dropped
    assert pacer.rpm == pytest.approx(196)
    clock.now = 5
    pacer.on_refusal(None)  # with headers known, a 429 waits (Retry-After) instead of cutting
    assert pacer.rpm == pytest.approx(196)
    tokens_only = Pacer(start_rpm=960, clock=clock)
    tokens_only.on_reply(AdvertisedLimits(None, 40_000, None, 39_000, None, 0.5))
    assert (tokens_only.rpm, tokens_only.tpm) == (None, pytest.approx(39_200))  # the ramp's start is no cap


def _drive(client: TeacherClient, requests: int) -> float:
    async def run() -> float:
        start = time.monotonic()
        try:
            await asyncio.gather(*(client.complete(MESSAGES, max_tokens=16) for _ in range(requests)))
        finally:
            await client.aclose()
        return time.monotonic() - start

    return asyncio.run(run())


def _client(server: LocalOpenAIServer, **options) -> TeacherClient:
    return TeacherClient("local", base_url=server.base_url, api_key="local", max_retries=30, **options)


def test_paces_to_the_advertised_limit_with_almost_no_refusals():
    teacher = RateLimitedTeacher(1200, latency=0.02)  # 20 requests/s, advertised
    with LocalOpenAIServer(teacher) as server:
        client = _client(server, max_concurrency=16)
        start = time.monotonic()
        _drive(client, 120)
    assert len(teacher.accepted) == 120
    assert len(teacher.refused) <= 2, "the headers are followed from the first reply on"
    assert client.pacer.snapshot()["source"] == "headers"
    assert client.pacer.rpm == pytest.approx(1200 * 0.98)
    assert teacher.accepted_per_minute(start) >= 0.8 * 1200


def test_without_headers_aimd_finds_the_enforced_limit():
    teacher = RateLimitedTeacher(1200, advertise=False, latency=0.02)
    with LocalOpenAIServer(teacher) as server:
        client = _client(server, max_concurrency=16, backoff_base=0.05, backoff_max=0.2)
        start = time.monotonic()
        _drive(client, 150)
    assert len(teacher.accepted) == 150 and teacher.refused, "it met the limit, and learned from it"
    snapshot = client.pacer.snapshot()
    assert snapshot["source"] == "aimd" and snapshot["refusals"] == len(teacher.refused)
    assert 0.4 * 1200 <= client.pacer.rpm <= 1.6 * 1200
    assert teacher.accepted_per_minute(start) >= 0.6 * 1200


def test_a_limit_halved_mid_run_is_followed():
    teacher = RateLimitedTeacher(1200, latency=0.02)
    with LocalOpenAIServer(teacher) as server:
        client = _client(server, max_concurrency=16)
        halving = threading.Timer(1.5, teacher.set_limit, [600])
        halving.start()
        start = time.monotonic()
        _drive(client, 60)
        halving.join()
    assert client.pacer.rpm == pytest.approx(600 * 0.98)
    # the replies sent before the first one that shows the new limit: at most a second's worth
    assert len(teacher.refused) <= 12
    assert teacher.accepted_per_minute(start + 2.5) <= 600 * 1.1


def test_a_typed_limit_is_never_exceeded_even_when_the_server_allows_more():
    teacher = RateLimitedTeacher(6000, latency=0.0)
    with LocalOpenAIServer(teacher) as server:
        client = _client(server, max_concurrency=16, requests_per_minute=600)
        start = time.monotonic()
        _drive(client, 40)
    assert client.pacer.rpm == 600 and not teacher.refused
    # one second's burst (10) plus 600/min for the rest
    assert teacher.accepted_per_minute(start) <= 600 * 1.6
