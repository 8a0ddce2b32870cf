"""The shared LLM client layer: one OpenAI-compatible client (pacing, retries, the dollar ledger,
prices and the Batch API) used by generation, the judge and the OpenAI evaluation backend.

It sits below the stages and imports only the core layer, so a stage that talks to a model never
imports another stage to do it.
"""

from bioinstruct.llm.client import (
    BudgetExceededError,
    Completion,
    TeacherAuthError,
    TeacherClient,
    TeacherError,
    TeacherRequestError,
    TeacherUnavailableError,
)

__all__ = [
    "BudgetExceededError",
    "Completion",
    "TeacherAuthError",
    "TeacherClient",
    "TeacherError",
    "TeacherRequestError",
    "TeacherUnavailableError",
]
