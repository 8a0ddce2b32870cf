"""CPU thread count: affinity, cgroup quotas (v2 and v1 files), local ranks, OMP_NUM_THREADS."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bioinstruct import threads


def _cgroup_v2(tmp_path: Path, quotas: dict[str, str]) -> tuple[Path, Path]:
    """A fake /sys/fs/cgroup with ``cpu.max`` files at the given relative folders, and /proc/self/cgroup."""
    root = tmp_path / "cgroup"
    for folder, text in quotas.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / "cpu.max").write_text(text + "\n")
    proc = tmp_path / "proc-self-cgroup"
    proc.write_text("0::/system.slice/job.scope\n")
    (root / "system.slice" / "job.scope").mkdir(parents=True, exist_ok=True)
    return root, proc


def test_cgroup_v2_quota_is_read_and_the_tightest_parent_wins(tmp_path):
    root, proc = _cgroup_v2(
        tmp_path, {"system.slice/job.scope": "max 100000", "system.slice": "150000 100000"}
    )
    assert threads.cgroup_cpu_limit(root, proc) == pytest.approx(1.5)
    root, proc = _cgroup_v2(tmp_path / "b", {"system.slice/job.scope": "400000 100000", "": "200000 100000"})
    assert threads.cgroup_cpu_limit(root, proc) == pytest.approx(2.0)
    root, proc = _cgroup_v2(tmp_path / "c", {"system.slice/job.scope": "max 100000"})
    assert threads.cgroup_cpu_limit(root, proc) is None


def test_cgroup_v1_quota_and_no_cgroup_at_all(tmp_path):
    root = tmp_path / "v1"
    (root / "cpu").mkdir(parents=True)
    (root / "cpu" / "cpu.cfs_quota_us").write_text("300000\n")
    (root / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert threads.cgroup_cpu_limit(root, tmp_path / "missing") == pytest.approx(3.0)
    (root / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")  # unlimited
    assert threads.cgroup_cpu_limit(root, tmp_path / "missing") is None
    assert threads.cgroup_cpu_limit(tmp_path / "nothing", tmp_path / "missing") is None


def test_available_cpus_is_affinity_capped_by_the_quota(tmp_path, monkeypatch):
    monkeypatch.setattr(threads, "affinity_cpus", lambda: 16)
    root, proc = _cgroup_v2(tmp_path, {"system.slice/job.scope": "250000 100000"})
    assert threads.available_cpus(root, proc) == 2  # 2.5 CPUs of quota: 2 whole threads
    root, proc = _cgroup_v2(tmp_path / "small", {"system.slice/job.scope": "50000 100000"})
    assert threads.available_cpus(root, proc) == 1  # never 0
    assert threads.available_cpus(tmp_path / "none", tmp_path / "missing") == 16


def test_affinity_is_what_this_process_may_run_on():
    if not hasattr(os, "sched_getaffinity"):
        pytest.skip("no sched_getaffinity on this platform")
    assert threads.affinity_cpus() == len(os.sched_getaffinity(0))


def test_local_ranks_share_the_cpus_and_omp_num_threads_wins():
    assert threads.local_ranks({}) == 1
    assert threads.local_ranks({"LOCAL_WORLD_SIZE": "4"}) == 4
    assert threads.local_ranks({"LOCAL_WORLD_SIZE": "zero"}) == 1
    assert threads.recommended_threads({}, cpus=8) == (8, "8 available CPU(s) / 1 local rank(s)")
    assert threads.recommended_threads({"LOCAL_WORLD_SIZE": "3"}, cpus=8)[0] == 2
    assert threads.recommended_threads({"LOCAL_WORLD_SIZE": "4"}, cpus=2)[0] == 1  # never 0
    assert threads.recommended_threads({"OMP_NUM_THREADS": "5", "LOCAL_WORLD_SIZE": "4"}, cpus=2) == (
        5,
        "OMP_NUM_THREADS",
    )


def test_configure_sets_torch_on_cpu_only_and_leaves_omp_alone(monkeypatch):
    import torch

    before = torch.get_num_threads()
    try:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        monkeypatch.setenv("LOCAL_WORLD_SIZE", str(threads.available_cpus() + 1))  # more ranks than CPUs
        record = threads.configure_cpu_threads("cpu")
        assert record == {"device": "cpu", "intra_op_threads": 1, "source": record["source"]}
        assert torch.get_num_threads() == 1 and "local rank(s)" in record["source"]
        torch.set_num_threads(before)
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        record = threads.configure_cpu_threads("cpu")
        assert (
            record["source"] == "OMP_NUM_THREADS" and torch.get_num_threads() == before
        )  # torch read it at start
        assert threads.configure_cpu_threads("cuda:0")["source"] == "unchanged (not CPU)"
    finally:
        torch.set_num_threads(before)
