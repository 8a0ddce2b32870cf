"""The shared LLM client layer: one OpenAI-compatible client (``client.TeacherClient``: pacing,
retries, the dollar ledger), ``pricing`` with ``prices.json``, and ``batch`` for the Batch API; used
by generation, the judge and the OpenAI evaluation backend.

It sits below the stages and imports only the core layer, so a stage that talks to a model never
imports another stage to do it. Nothing is imported here: ``pricing`` alone does not load the SDK.
"""
