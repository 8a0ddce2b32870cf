"""How many CPU threads torch may use: the cores this process may really run on, shared by the
local ranks.

Why: torch sizes its intra-op pool from the machine's cores, not from what the process is allowed
to use. In a container limited by a cgroup quota (``docker --cpus 2`` on a 64-core host), under
``taskset``, or with several ranks per machine, that pool oversubscribes the CPUs and every
matrix multiply waits on descheduled threads. ``OMP_NUM_THREADS`` set by the user (or by
``accelerate launch``/``torchrun``) always wins.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")


def affinity_cpus() -> int:
    """CPUs this process may be scheduled on (``taskset``/cpuset aware), else ``os.cpu_count()``."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # macOS, Windows
        return os.cpu_count() or 1


def _parse_cpu_max(text: str) -> float | None:
    """cgroup v2 ``cpu.max``: ``"200000 100000"`` -> 2.0 CPUs; ``"max 100000"`` -> no limit."""
    parts = text.split()
    if not parts or parts[0] == "max":
        return None
    quota = float(parts[0])
    period = float(parts[1]) if len(parts) > 1 else 100000.0
    return quota / period if quota > 0 and period > 0 else None


def _cgroup_v2_dirs(root: Path, proc_cgroup: Path) -> list[Path]:
    """This process's cgroup v2 folder and its parents up to the root (a parent may hold the quota)."""
    try:
        lines = proc_cgroup.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    relative = next((line.split(":", 2)[2] for line in lines if line.startswith("0::")), None)
    if relative is None:
        return []
    folder = root / relative.lstrip("/")
    dirs = [folder, *folder.parents]
    return [d for d in dirs if d == root or root in d.parents]


def cgroup_cpu_limit(root: Path = CGROUP_ROOT, proc_cgroup: Path = Path("/proc/self/cgroup")) -> float | None:
    """The CPU quota of this process's cgroup in CPUs (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``), or None.

    The smallest quota on the way from this cgroup to the root applies.
    """
    limits: list[float] = []
    for folder in _cgroup_v2_dirs(root, proc_cgroup):
        try:
            value = _parse_cpu_max((folder / "cpu.max").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if value is not None:
            limits.append(value)
    for v1 in (root / "cpu", root / "cpu,cpuacct"):
        try:
            quota = float((v1 / "cpu.cfs_quota_us").read_text(encoding="utf-8"))
            period = float((v1 / "cpu.cfs_period_us").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if quota > 0 and period > 0:
            limits.append(quota / period)
    return min(limits) if limits else None


def local_ranks(env: Mapping[str, str] | None = None) -> int:
    """Processes sharing this machine's CPUs: ``LOCAL_WORLD_SIZE`` (torchrun, accelerate), else 1."""
    env = os.environ if env is None else env
    for name in ("LOCAL_WORLD_SIZE", "MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE"):
        value = env.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


def available_cpus(root: Path = CGROUP_ROOT, proc_cgroup: Path = Path("/proc/self/cgroup")) -> int:
    """Whole CPUs this process can use: affinity, capped by the cgroup quota (rounded down, >= 1)."""
    cpus = affinity_cpus()
    quota = cgroup_cpu_limit(root, proc_cgroup)
    if quota is not None:
        cpus = min(cpus, max(1, math.floor(quota)))
    return max(1, cpus)


def recommended_threads(env: Mapping[str, str] | None = None, *, cpus: int | None = None) -> tuple[int, str]:
    """(intra-op threads, why): ``OMP_NUM_THREADS`` when set, else available CPUs / local ranks."""
    env = os.environ if env is None else env
    omp = env.get("OMP_NUM_THREADS", "").strip()
    if omp.isdigit() and int(omp) > 0:
        return int(omp), "OMP_NUM_THREADS"
    cpus = available_cpus() if cpus is None else cpus
    ranks = local_ranks(env)
    threads = max(1, cpus // ranks)
    return threads, f"{cpus} available CPU(s) / {ranks} local rank(s)"


def configure_cpu_threads(device: str = "cpu") -> dict[str, Any]:
    """Set torch's intra-op threads for a CPU run and return what was set, for the run's record.

    On another device nothing changes (the GPU does the work); the record says so. With
    ``OMP_NUM_THREADS`` set, torch already uses it and is left alone.
    """
    import torch

    if not str(device).startswith("cpu"):
        return {
            "device": str(device),
            "intra_op_threads": torch.get_num_threads(),
            "source": "unchanged (not CPU)",
        }
    default = torch.get_num_threads()
    threads, source = recommended_threads()
    if source != "OMP_NUM_THREADS" and threads != default:
        torch.set_num_threads(threads)
        logger.debug("torch intra-op threads %d -> %d (%s)", default, threads, source)
    return {"device": "cpu", "intra_op_threads": torch.get_num_threads(), "source": source}


__all__ = [
    "affinity_cpus",
    "available_cpus",
    "cgroup_cpu_limit",
    "configure_cpu_threads",
    "local_ranks",
    "recommended_threads",
]
