"""What a teacher request ends in: a :class:`Completion`, or a :class:`TeacherError` that says
whether trying again can help; the counters of ``run.json``; and the mapping from an SDK exception
to a retry cause or the final error.

Why its own module: deciding what a failure *means* (retry on 429/5xx/timeouts, stop at once on
401/403/404 or an exhausted quota, give up on a 400) depends only on the exception, not on the
pacing and budget machinery of :class:`~bioinstruct.llm.client.TeacherClient`, which calls
:func:`classify_error` for each failed attempt (and the Batch API runner, through the client, for
its management calls). ``bioinstruct.llm.client`` re-exports every public name here, so the stages
and tests keep importing them from there.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import openai

from bioinstruct.errors import BioInstructError, ConfigError
from bioinstruct.llm.retry import error_detail, parse_retry_after
from bioinstruct.secrets import public_url, redact

RETRY_CAUSES = ("rate_limit", "server_error", "timeout", "connection")
_AUTH_HINTS = {
    401: "the API key was rejected: check OPENAI_API_KEY or api_key=",
    403: "the key may not use this model or endpoint (permission, organisation or region)",
    404: "model or deployment not found: check the model name (Azure: the deployment name) and base_url",
}


@dataclass
class Completion:
    """One finished chat completion, with its usage and cost."""

    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    request_id: str
    response_id: str
    model: str
    attempts: int
    refusal: str | None = None


@dataclass
class TeacherStats:
    """Counters for ``run.json``: requests = succeeded + failed + cancelled once all have returned."""

    requests: int = 0
    succeeded: int = 0
    failed: int = 0
    retries: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RETRY_CAUSES, 0))
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    cancelled: int = 0
    #: sent by an earlier session that was killed (``kill -9``) before the reply: counted nowhere else
    lost: int = 0
    #: worst-case cost of attempts that timed out: the server may have billed them, so the cap counts them.
    unconfirmed_cost_usd: float = 0.0
    finish_reasons: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["cost_usd"] = round(self.cost_usd, 6)
        data["unconfirmed_cost_usd"] = round(self.unconfirmed_cost_usd, 6)
        return data


class TeacherError(BioInstructError):
    """The teacher endpoint could not produce a completion."""


class TeacherAuthError(TeacherError):
    """401/403/404 or an exhausted quota: every further request would fail the same way, so stop."""


class TeacherRequestError(TeacherError):
    """The server rejected this one request (400/422, e.g. context too long); retrying cannot help."""


class BudgetExceededError(TeacherError):
    """Sending the request could exceed ``max_cost_usd``; raised before anything is sent."""


class TeacherUnavailableError(TeacherError):
    """Retries exhausted on rate limits, server errors, timeouts or connection failures."""


class _MissingCredentialsError(TeacherAuthError, ConfigError):
    """No API key anywhere: both a configuration mistake and an authentication failure."""


class _MalformedReplyError(Exception):
    """A 200 reply without choices: treated like a server error and retried."""


def classify_error(exc: BaseException, model: str, api_key: str | None) -> tuple[str, float | None]:
    """Map an exception to (retry cause, server-requested delay), or raise the final TeacherError.

    A :class:`TeacherAuthError` means every later request would fail too (the client stops them
    unsent); ``api_key`` is redacted from every message.
    """
    if isinstance(exc, TimeoutError | openai.APITimeoutError):
        return "timeout", None
    if isinstance(exc, openai.APIConnectionError):
        return "connection", None
    if isinstance(exc, _MalformedReplyError):
        return "server_error", None
    if not isinstance(exc, openai.APIStatusError):
        raise TeacherError(f"teacher {model!r}: {redact(str(exc), (api_key,))}") from None
    status, retry_after = exc.status_code, parse_retry_after(exc.response.headers)
    detail = redact(error_detail(exc), (api_key,))
    where = f"teacher {model!r} at {public_url(str(exc.request.url))}"
    if status == 429 and exc.code == "insufficient_quota":
        raise TeacherAuthError(
            f"{where}: HTTP 429 insufficient_quota ({detail}); check plan and billing"
        ) from None
    if status == 429:
        return "rate_limit", retry_after
    if status == 408:
        return "timeout", retry_after
    if status >= 500 or status == 409:
        return "server_error", retry_after
    if status in _AUTH_HINTS:
        raise TeacherAuthError(
            f"{where}: HTTP {status} ({detail}); {_AUTH_HINTS[status]}. Not retried."
        ) from None
    raise TeacherRequestError(f"{where}: HTTP {status} rejected the request ({detail})") from None


def describe_cause(
    cause: str, exc: BaseException, *, timeout: float, api_key: str | None, max_tokens: int | None = None
) -> str:
    """One phrase for the journal: the cause, the limit that was hit, and how to change it."""
    if cause == "timeout" and isinstance(exc, TimeoutError | openai.APITimeoutError):
        tokens = f" of up to {max_tokens} tokens" if max_tokens else ""
        return (
            f"timeout: no reply{tokens} within {timeout:g} s "
            "(raise --request-timeout / timeout=, or lower --max-tokens / max_tokens=)"
        )
    text = error_detail(exc) if isinstance(exc, openai.APIStatusError) else str(exc)
    return f"{cause} ({redact(text, (api_key,))[:200] or type(exc).__name__})"
