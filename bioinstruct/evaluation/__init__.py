"""Evaluation stage: benchmark registry, backends, metrics and reports."""
