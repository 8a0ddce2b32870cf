"""Teacher client throughput against a local server with fixed latency, and a run-time projection.

Why: the client's pacing must get close to the limit that binds, min(RPM, 60*concurrency/latency,
TPM/tokens per request), without going over it; otherwise a 25k-instruction run either takes longer
than it must or is throttled by the server. Each scenario below makes one of the three limits bind
and prints achieved requests/min against it (target: >= 95%). The limiter allows a burst of one
second's worth of requests (OpenAI enforces per-minute limits over short windows), so short runs can
read slightly above 100%.

Three more scenarios give the client no limits at all and let it learn them (self-tuning pacing,
``bioinstruct/llm/pacing.py``) from a server that enforces 600 requests/min (a bucket of one
second's worth, as OpenAI quantizes) with 0.2 s latency: ``headers`` advertises the limit in
``x-ratelimit-*`` headers (goal: >= 95% of it, < 1% of requests answered 429); ``halving`` halves
an advertised 1,200/min to 600 after 10 s (goal: back under the new limit within 30 s);
``no-headers`` advertises nothing, so AIMD on the 429s finds it (goal: >= 85% of the limit).

The projection then answers "how long will the paper-sized run take at a GPT-4-class limit?"
from a request shape (prompt ~1,100 tokens with 3 seeds, reply ~2,500 tokens for 20 tasks, N kept
per request) given as flags with documented defaults.

    python benchmarks/teacher_throughput.py                 # three scenarios (~75 s) + projection
    python benchmarks/teacher_throughput.py --scenario rpm --rpm 1200 --requests 400
    python benchmarks/teacher_throughput.py --scenario learn   # the three learning scenarios (~2.5 min)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import time

from bioinstruct.llm.client import TeacherClient, estimate_prompt_tokens, load_price_table
from bioinstruct.testing.openai_server import LocalOpenAIServer, Reply
from bioinstruct.testing.rate_limited import RateLimitedTeacher

SCENARIOS = {
    # name: (latency s, concurrency, rpm, tpm, requests, max_tokens)
    "rpm": (0.2, 8, 600, None, 250, 256),
    "concurrency": (0.5, 8, None, None, 400, 256),
    "tpm": (0.2, 8, None, 120_000, 50, 893),
}
PROMPT = "Come up with a series of biomedical tasks. " * 9  # ~400 characters, ~107 estimated tokens


def limit_per_minute(
    latency: float, concurrency: int, rpm: float | None, tpm: float | None, tokens: int
) -> float:
    """The binding limit: min(RPM, 60*concurrency/latency, TPM/tokens per request)."""
    limits = [60 * concurrency / latency]
    if rpm:
        limits.append(rpm)
    if tpm:
        limits.append(tpm / tokens)
    return min(limits)


async def _drive(client: TeacherClient, requests: int, max_tokens: int) -> float:
    messages = [{"role": "user", "content": PROMPT}]
    start = time.perf_counter()
    try:
        results = await asyncio.gather(
            *(client.complete(messages, max_tokens=max_tokens) for _ in range(requests))
        )
    finally:
        await client.aclose()
    assert len(results) == requests and client.stats.succeeded == requests
    return time.perf_counter() - start


def run_scenario(
    name: str, latency: float, concurrency: int, rpm, tpm, requests: int, max_tokens: int
) -> float:
    with LocalOpenAIServer(lambda request: Reply("1. Instruction: ok", delay=latency)) as server:
        # Headers and body leave in two writes; with Nagle's algorithm on, the client's delayed ACK
        # adds ~40 ms to every reply, which is the test server's artefact, not the client's.
        server._httpd.RequestHandlerClass.disable_nagle_algorithm = True
        client = TeacherClient(
            "local",
            base_url=server.base_url,
            api_key="local",
            max_concurrency=concurrency,
            requests_per_minute=rpm,
            tokens_per_minute=tpm,
        )
        elapsed = asyncio.run(_drive(client, requests, max_tokens))
    tokens = estimate_prompt_tokens([{"role": "user", "content": PROMPT}]) + max_tokens
    limit = limit_per_minute(latency, concurrency, rpm, tpm, tokens)
    achieved = requests / elapsed * 60
    # The limiters admit a burst of one second's worth at the start; this is the most they allow.
    burst = 0 if limit == 60 * concurrency / latency else max(1.0, limit / 60)
    permitted = limit * elapsed / 60 + burst
    print(
        f"{name:12s} latency={latency:.2f}s concurrency={concurrency} rpm={rpm} tpm={tpm} "
        f"requests={requests}: {achieved:7.1f} req/min in {elapsed:5.1f}s; limit {limit:7.1f} "
        f"-> achieved/limit = {achieved / limit:.3f} (of the most the limiter permits incl. its "
        f"1 s burst: {requests / permitted:.3f})"
    )
    return achieved / limit


LEARN_LATENCY, LEARN_CONCURRENCY = 0.2, 16


def learn_scenario(name: str, seconds: float) -> bool:
    """Drive a client with no limits for ``seconds`` against a rate-limited server; print and judge."""
    advertise = name != "no-headers"
    limit = 1200.0 if name == "halving" else 600.0
    teacher = RateLimitedTeacher(limit, advertise=advertise, latency=LEARN_LATENCY)
    with LocalOpenAIServer(teacher) as server:
        client = TeacherClient(
            "local", base_url=server.base_url, api_key="local", max_concurrency=LEARN_CONCURRENCY,
            max_retries=50, backoff_base=0.2, backoff_max=2.0,
        )  # fmt: skip
        halving = None
        if name == "halving":
            import threading

            halving = threading.Timer(10.0, teacher.set_limit, [limit / 2])
            halving.start()
        start = time.monotonic()

        async def keep_busy() -> None:
            async def worker() -> None:
                while time.monotonic() - start < seconds:
                    await client.complete([{"role": "user", "content": PROMPT}], max_tokens=64)

            try:
                await asyncio.gather(*(worker() for _ in range(LEARN_CONCURRENCY)))
            finally:
                await client.aclose()

        asyncio.run(keep_busy())
        end = time.monotonic()
    refused = len(teacher.refused) / max(1, len(teacher.accepted) + len(teacher.refused))
    if name == "halving":
        # the first second from the halving on after which every trailing 5 s window is under the new limit
        new = limit / 2
        settled = next(
            (
                t
                for t in range(int(seconds) - 15)
                if all(
                    teacher.accepted_per_minute(start + 10 + u, start + 15 + u) <= new * 1.02
                    for u in range(t, int(seconds) - 15)
                )
            ),
            None,
        )
        after = teacher.accepted_per_minute(start + 20, end)
        ok = settled is not None and settled <= 30
        print(
            f"halving     1200 -> 600 req/min at t=10 s: under the new limit {settled} s after the halving "
            f"(goal <= 30 s); {after:.1f} req/min from t=20 s = {after / new:.3f} of it; 429s {100 * refused:.2f}% "
            f"-> {'PASS' if ok else 'BELOW TARGET'}"
        )
        return ok
    achieved = teacher.accepted_per_minute(start, end)
    goal = 0.95 if advertise else 0.85
    ok = achieved / limit >= goal and (refused < 0.01 or not advertise)
    print(
        f"{name:11s} limit {limit:.0f} req/min ({'advertised' if advertise else 'not advertised'}), no limits "
        f"given: {achieved:.1f} req/min = {achieved / limit:.3f} of it (goal >= {goal}); 429s {100 * refused:.2f}% "
        f"(goal < 1% with headers); paced to {client.pacer.describe()} -> {'PASS' if ok else 'BELOW TARGET'}"
    )
    return ok


def project(args: argparse.Namespace) -> None:
    """Wall-clock time and cost of a paper-sized run at the given limits and request shape."""
    requests = math.ceil(args.target / args.kept_per_request)
    counted = args.prompt_tokens + args.max_tokens  # what the server's TPM limiter counts per request
    latency = args.reply_tokens / args.decode_tokens_per_second + args.overhead_s
    by_tpm = args.projection_tpm / counted
    by_concurrency = 60 * args.projection_concurrency / latency
    rate = min(by_tpm, args.projection_rpm, by_concurrency)
    price = load_price_table()["models"][args.projection_model]
    cost = requests * (args.prompt_tokens * price["input"] + args.reply_tokens * price["output"]) / 1e6
    print(
        f"\nProjection: {args.target:,} instructions at {args.kept_per_request} kept per request -> {requests:,} requests"
    )
    print(
        f"  per request: {args.prompt_tokens:,} prompt + {args.reply_tokens:,} reply tokens; the TPM limiter counts "
        f"{args.prompt_tokens:,} + max_tokens {args.max_tokens:,} = {counted:,}"
    )
    print(
        f"  TPM {args.projection_tpm:,.0f} allows {by_tpm:.1f} req/min; RPM limit {args.projection_rpm:,.0f}"
    )
    print(
        f"  latency ~{latency:.0f} s/request at {args.decode_tokens_per_second:g} tok/s: concurrency "
        f"{args.projection_concurrency} allows {by_concurrency:.1f} req/min; "
        f"{math.ceil(by_tpm * latency / 60)} in flight would saturate the TPM limit"
    )
    hours = requests / rate / 60
    print(f"  => {rate:.1f} req/min, {hours:.2f} h ({hours * 60:.0f} min) wall clock")
    best = min(by_tpm, args.projection_rpm)
    print(f"  (at the TPM limit, i.e. enough concurrency: {requests / best:.0f} min)")
    print(
        f"  cost at {args.projection_model} prices: ${cost:,.2f} synchronous, ${cost / 2:,.2f} with the Batch API"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scenario",
        choices=[*SCENARIOS, "headers", "halving", "no-headers", "learn", "all", "none"],
        default="all",
    )
    parser.add_argument("--seconds", type=float, default=50, help="length of each learning scenario")
    parser.add_argument("--latency", type=float, help="server latency in seconds (overrides the scenario's)")
    parser.add_argument("--concurrency", type=int, help="max_concurrency (overrides the scenario's)")
    parser.add_argument("--rpm", type=float, help="requests_per_minute (overrides the scenario's)")
    parser.add_argument("--tpm", type=float, help="tokens_per_minute (overrides the scenario's)")
    parser.add_argument("--requests", type=int, help="number of requests (overrides the scenario's)")
    parser.add_argument("--target", type=int, default=25_005, help="instructions to generate (paper: 25,005)")
    parser.add_argument(
        "--kept-per-request", type=float, default=10, help="tasks kept per request of 20 (~half)"
    )
    parser.add_argument("--prompt-tokens", type=int, default=1_100, help="prompt tokens incl. 3 seed tasks")
    parser.add_argument("--reply-tokens", type=int, default=2_500, help="reply tokens for 20 tasks")
    parser.add_argument("--max-tokens", type=int, default=3_072, help="max_tokens sent with each request")
    parser.add_argument("--projection-tpm", type=float, default=300_000, help="GPT-4-class tokens/min limit")
    parser.add_argument("--projection-rpm", type=float, default=10_000, help="requests/min limit")
    parser.add_argument("--projection-concurrency", type=int, default=8, help="max_concurrency of the run")
    parser.add_argument("--decode-tokens-per-second", type=float, default=25, help="teacher decode speed")
    parser.add_argument("--overhead-s", type=float, default=1.0, help="per-request latency besides decoding")
    parser.add_argument("--projection-model", default="gpt-4", help="model whose price table entry to use")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    learning = ["headers", "halving", "no-headers"]
    if args.scenario in ("all", "learn", *learning):
        chosen = learning if args.scenario in ("all", "learn") else [args.scenario]
        results = [learn_scenario(name, args.seconds) for name in chosen]
        print(f"learning scenarios: {'PASS' if all(results) else 'BELOW TARGET'}")
    names = (
        list(SCENARIOS) if args.scenario == "all" else [args.scenario] if args.scenario in SCENARIOS else []
    )
    ratios = []
    for name in names:
        latency, concurrency, rpm, tpm, requests, max_tokens = SCENARIOS[name]
        ratios.append(
            run_scenario(
                name,
                args.latency or latency,
                args.concurrency or concurrency,
                args.rpm if args.rpm is not None else rpm,
                args.tpm if args.tpm is not None else tpm,
                args.requests or requests,
                max_tokens,
            )
        )
    if ratios:
        verdict = "PASS" if min(ratios) >= 0.95 else "BELOW TARGET"
        print(f"min achieved/limit = {min(ratios):.3f} (target >= 0.95): {verdict}")
    project(args)


if __name__ == "__main__":
    main()
