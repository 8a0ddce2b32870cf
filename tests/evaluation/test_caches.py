"""The prediction and judge caches: files written before they shared jsonio's KeyedLog still load,
and a kill mid-line costs one recomputed entry, never the entries appended after it."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

from bioinstruct.evaluation.judge import CACHE_FILE, JudgeCache
from bioinstruct.evaluation.prediction_cache import PredictionCache

IDENTITY = ("medqa", "org/model", None, None, "generate", "bfloat16", None, "w0", None)


def _old_prediction_line(key: str, output) -> str:
    """Exactly what PredictionCache.add wrote before the change."""
    return json.dumps({"key": key, "output": output}, ensure_ascii=False) + "\n"


def _prediction_path(directory: Path) -> Path:
    path = PredictionCache(directory, *IDENTITY).path
    assert path is not None and path.parent == directory and path.name.startswith("medqa-")
    return path


def test_a_prediction_cache_written_before_the_change_still_loads(tmp_path: Path) -> None:
    path = _prediction_path(tmp_path)
    outputs = {"k1": "The answer is (B).", "k2": [-1.5, -0.25, -3.0, -2.0], "k3": "Naïve β\u2028line"}
    path.write_text("".join(_old_prediction_line(k, v) for k, v in outputs.items()), encoding="utf-8")
    cache = PredictionCache(tmp_path, *IDENTITY)
    assert cache.entries == outputs  # U+2028 inside an output used to split the line in two
    cache.add({"k4": "A"})
    assert path.read_text(encoding="utf-8").endswith(_old_prediction_line("k4", "A"))  # same format
    assert PredictionCache(tmp_path, *IDENTITY).entries == {**outputs, "k4": "A"}
    assert PredictionCache(None, *IDENTITY).path is None


def test_a_torn_prediction_line_costs_only_its_own_item(tmp_path: Path, caplog) -> None:
    path = _prediction_path(tmp_path)
    path.write_bytes(_old_prediction_line("k1", "A").encode() + b'{"key": "k2", "output": "caf\xc3')
    with caplog.at_level(logging.WARNING):
        cache = PredictionCache(tmp_path, *IDENTITY)  # a tail torn mid-character used to crash here
    assert cache.entries == {"k1": "A"}
    assert "prediction cache" in caplog.text and "1 unreadable line" in caplog.text
    cache.add({"k2": "B", "k3": "C"})
    assert PredictionCache(tmp_path, *IDENTITY).entries == {"k1": "A", "k2": "B", "k3": "C"}


def _old_judge_line(key: str, record: dict) -> str:
    """Exactly what JudgeCache.put wrote before the change."""
    return json.dumps({"key": key, **record}, ensure_ascii=False) + "\n"


def test_a_judge_cache_written_before_the_change_still_loads(tmp_path: Path) -> None:
    key = JudgeCache.key("gpt-4", "Rate this answer.")
    record = {"scores": {"coherence": 4, "completeness": 3, "naturalness": 5}, "raw": '{"coherence": 4}'}
    (tmp_path / CACHE_FILE).write_text(_old_judge_line(key, record), encoding="utf-8")
    cache = JudgeCache(tmp_path)
    assert cache.get(key) == {"key": key, **record}
    assert cache.get("missing") is None
    other = JudgeCache.key("gpt-4o", "Rate this answer.")
    cache.put(other, {"scores": {"coherence": 1}, "raw": "r"})
    lines = (tmp_path / CACHE_FILE).read_text(encoding="utf-8")
    assert lines == _old_judge_line(key, record) + _old_judge_line(
        other, {"scores": {"coherence": 1}, "raw": "r"}
    )
    assert JudgeCache(tmp_path).get(other) == {"key": other, "scores": {"coherence": 1}, "raw": "r"}


def test_unreadable_judge_lines_give_one_warning_and_appends_survive(tmp_path: Path, caplog) -> None:
    good = {f"k{i}": {"scores": {"coherence": i + 1}, "raw": "r"} for i in range(3)}
    text = (
        _old_judge_line("k0", good["k0"])
        + '{"key": "t1", "sco'  # torn by a crash, then the old code appended right onto it:
        + _old_judge_line("k1", good["k1"])
        + '{"scores": {"coherence": 2}}\n'  # no key
        + _old_judge_line("k2", good["k2"])
        + '{"key": "t2", "scores": {"coh'  # torn last line
    )
    (tmp_path / CACHE_FILE).write_text(text, encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        cache = JudgeCache(tmp_path)
    warnings = [r for r in caplog.records if "judge cache" in r.getMessage()]
    assert len(warnings) == 1 and "skipped 3 unreadable lines" in warnings[0].getMessage()
    assert cache.get("k0") and cache.get("k2") and cache.get("k1") is None  # k1 was glued: judged again
    cache.put("k1", good["k1"])
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        again = JudgeCache(tmp_path)
    assert {k: again.get(k) for k in good} == {k: {"key": k, **v} for k, v in good.items()}
    assert len(caplog.records) == 1 and "skipped 2 unreadable lines" in caplog.text  # the old damage only


def test_judge_puts_from_threads_all_land(tmp_path: Path) -> None:
    threads = 8
    cache = JudgeCache(tmp_path)

    def worker(t: int) -> None:
        for i in range(50):
            cache.put(f"{t}-{i}", {"scores": {"coherence": 1 + i % 5}, "raw": "x" * (i * 300)})

    running = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()
    again = JudgeCache(tmp_path)
    assert all(
        again.get(f"{t}-{i}") == cache.get(f"{t}-{i}") is not None for t in range(threads) for i in range(50)
    )
    assert len((tmp_path / CACHE_FILE).read_text(encoding="utf-8").splitlines()) == threads * 50
