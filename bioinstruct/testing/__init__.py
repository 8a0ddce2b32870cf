"""Helpers that tests, benchmarks and the quickstart share: real local servers and tiny models."""
