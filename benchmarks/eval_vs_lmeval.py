"""Our log-likelihood scoring against lm-evaluation-harness on a real model: same picks, and the speed.

Both run on the same local model folder (SmolLM2-135M-Instruct by default, via
``bioinstruct.models.small_instruct_model``), the same rows, zero-shot, float32, the same
batch size, in one process:

- ours: ``Evaluator`` with backend ``hf``, protocol ``loglik``, template ``plain``;
- lm-eval 0.4.x: ``lm_eval.simple_evaluate`` with ``HFLM`` and the local tasks of
  ``benchmarks/lmeval_tasks/`` (lm-eval's own ``medqa_4options``, ``medmcqa`` and
  ``pubmedqa`` prompt functions and choices over the Hub-schema sample rows; a generated YAML
  includes each and sets the data file, because the Hub tasks need the network). For MMLU
  (``mmlu_clinical_knowledge``, ``mmlu_anatomy``) the generated YAML includes lm-eval's own task
  file (``lm_eval/tasks/mmlu/default/mmlu_<subject>.yaml``: description, prompt, choices, dev
  split) and only points its dataset at local ``cais/mmlu``-schema files; no MMLU rows are in
  the shared samples, so they come from ``tests/fixtures/bionlp/`` (invented rows) unless
  ``--samples`` holds files of the same names.

Per benchmark it prints identical prompts, identical picks (count and %), the largest
|log-likelihood difference| over all options, the accuracy of each, and the time of each
(best of ``--repeat``, runs alternating so background load hits both alike), split into
model load and scoring; ``--per-item`` adds one line per item (both picks, the gold answer and
|log-likelihood difference| of each option). lm-eval runs with ``bootstrap_iters=0`` (its stderr
bootstrap is not scoring) and its default ``logits_cache=True`` (one forward pass scores every
single-token option, as ours does).

Run (lm-eval is a benchmark/test dependency: ``pip install -e ".[bench]"``)::

    python benchmarks/eval_vs_lmeval.py [--samples ../shared/bionlp-samples] [--batch-size 8]
        [--limit N] [--repeat 3] [--benchmarks medqa,medmcqa,pubmedqa,mmlu_clinical_knowledge,mmlu_anatomy]
        [--model PATH] [--per-item]

``tests/evaluation/test_lmeval_parity.py`` imports this file and asserts its figures on a
few dozen rows per benchmark.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent
TASKS_DIR = Path(__file__).resolve().parent / "lmeval_tasks"
#: Invented rows in the Hub schemas (tests/fixtures/make_bionlp.py): the MMLU rows live only here.
FIXTURES = REPO / "tests" / "fixtures" / "bionlp"


@dataclass(frozen=True)
class Pair:
    """One of our benchmarks and the local lm-eval task that reproduces lm-eval's prompt for it."""

    task: str  # task name in benchmarks/lmeval_tasks/<task>.yaml (or of the generated YAML)
    split: str  # the split name that YAML reads
    ours_file: str  # sample file our Evaluator reads (the schema bioinstruct loads from the Hub)
    lmeval_files: tuple[str, ...]  # files lm-eval may read, first present wins (its Hub schema first)
    #: lm-eval's own task file (under lm_eval/tasks/) to include instead of benchmarks/lmeval_tasks/
    lmeval_task: str | None = None
    #: further splits lm-eval's task reads (its few-shot split): (split, file name)
    extra_splits: tuple[tuple[str, str], ...] = ()
    #: where the files are when the samples folder lacks them
    fallback: Path | None = None


def _mmlu_pair(subject: str) -> Pair:
    """lm-eval's own ``mmlu_<subject>`` over cais/mmlu-schema files (test rows; dev rows, its
    few-shot split, which lm-eval reads even at 0 shots)."""
    name = f"mmlu_{subject}"
    return Pair(
        f"{name}_local", "test", f"{name}.jsonl", (f"{name}.jsonl",),
        lmeval_task=f"mmlu/default/{name}.yaml", extra_splits=(("dev", f"{name}_dev.jsonl"),), fallback=FIXTURES,
    )  # fmt: skip


PAIRS = {
    "medqa": Pair("medqa_4options_local", "test", "medqa.jsonl", ("medqa.jsonl",)),
    "medmcqa": Pair("medmcqa_local", "validation", "medmcqa.jsonl", ("medmcqa.jsonl",)),
    # lm-eval's pubmedqa reads bigbio/pubmed_qa; the samples hold the same items in both schemas.
    "pubmedqa": Pair("pubmedqa_local", "test", "pubmedqa.jsonl", ("pubmedqa_bigbio.jsonl", "pubmedqa.jsonl")),
    "mmlu_clinical_knowledge": _mmlu_pair("clinical_knowledge"),
    "mmlu_anatomy": _mmlu_pair("anatomy"),
}


def find_file(samples: Path, pair: Pair, names: tuple[str, ...]) -> Path | None:
    """The first of ``names`` in ``samples``, else in the pair's fallback folder."""
    folders = [samples, *([pair.fallback] if pair.fallback else [])]
    return next((folder / n for folder in folders for n in names if (folder / n).is_file()), None)


def data_files(samples: Path, benchmarks: list[str]) -> dict[str, Path]:
    """The file our Evaluator reads for each benchmark."""
    files = {}
    for name in benchmarks:
        pair = PAIRS[name]
        found = find_file(samples, pair, (pair.ours_file,))
        files[name] = (found or samples / pair.ours_file).resolve()
    return files


def lmeval_task_file(pair: Pair) -> Path:
    """The YAML the generated task includes: lm-eval's own, or ours in benchmarks/lmeval_tasks/."""
    if pair.lmeval_task is None:
        return TASKS_DIR / f"{pair.task}.yaml"
    import lm_eval

    return Path(lm_eval.__file__).parent / "tasks" / pair.lmeval_task


def write_tasks(task_dir: Path, samples: Path, benchmarks: list[str]) -> dict[str, str]:
    """Write one YAML per benchmark into ``task_dir`` that includes the shipped task and sets its
    data file; returns benchmark -> lm-eval task name."""
    import yaml

    names = {}
    for name in benchmarks:
        pair = PAIRS[name]
        splits = {}
        for split, files in [(pair.split, pair.lmeval_files), *((s, (f,)) for s, f in pair.extra_splits)]:
            source = find_file(samples, pair, files)
            if source is None:
                where = f"{samples}" + (f" or {pair.fallback}" if pair.fallback else "")
                raise SystemExit(f"no {' or '.join(files)} in {where}")
            splits[split] = str(source.resolve())
        config: dict[str, Any] = {
            "include": str(lmeval_task_file(pair)),
            "task": pair.task,
            "dataset_kwargs": {"data_files": splits},
        }
        if pair.lmeval_task is not None:  # lm-eval's Hub task, pointed at the local files
            config.update(dataset_path="json", dataset_name=None)
        (task_dir / f"{pair.task}.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
        names[name] = pair.task
    return names


def load_lmeval(model_dir: Path, batch_size: int, device: str) -> tuple[Any, float]:
    """lm-eval's HFLM on ``model_dir`` and the seconds it took to load."""
    from lm_eval.models.huggingface import HFLM

    start = time.perf_counter()
    lm = HFLM(pretrained=str(model_dir), dtype="float32", batch_size=batch_size, device=device)
    return lm, time.perf_counter() - start


def run_lmeval(
    lm: Any, task_dir: Path, tasks: dict[str, str], limit: int | None
) -> tuple[dict, float, float]:
    """lm-eval's per-document samples (benchmark -> list ordered by doc_id), the seconds spent
    building its tasks (indexing the YAMLs, reading the rows) and the seconds scoring them."""
    import lm_eval
    from lm_eval.tasks import TaskManager

    start = time.perf_counter()
    manager = TaskManager(include_path=str(task_dir), include_defaults=False)
    built = manager.load(list(tasks.values()))["tasks"]
    setup = time.perf_counter() - start
    start = time.perf_counter()
    out = lm_eval.simple_evaluate(
        model=lm,
        tasks=[built[task] for task in tasks.values()],
        task_manager=manager,
        num_fewshot=0,
        limit=limit,
        bootstrap_iters=0,
        log_samples=True,
        verbosity="WARNING",
    )
    elapsed = time.perf_counter() - start
    samples = {name: sorted(out["samples"][task], key=lambda s: s["doc_id"]) for name, task in tasks.items()}
    return samples, setup, elapsed


def load_ours(model_dir: Path, batch_size: int, device: str) -> tuple[Any, float]:
    """Our Evaluator with its backend loaded, and the seconds the load took."""
    from bioinstruct.evaluation.evaluator import Evaluator

    start = time.perf_counter()
    evaluator = Evaluator(
        str(model_dir),
        progress=False,
        backend_options={"device": device, "batch_size": batch_size, "dtype": "float32"},
    )
    evaluator.backend  # noqa: B018 - loads the model now, so the load is timed apart from scoring
    return evaluator, time.perf_counter() - start


def run_ours(evaluator: Any, files: dict[str, Path], limit: int | None) -> tuple[dict, float]:
    start = time.perf_counter()
    results = evaluator.run(
        list(files), data_files=files, protocol="loglik", template="plain", num_fewshot=0, limit=limit
    )
    return {name: results.get(name) for name in files}, time.perf_counter() - start


def _lmeval_prompt(sample: dict) -> str:
    arguments = sample["arguments"]
    first = arguments[0] if isinstance(arguments, list) else arguments["gen_args_0"]
    return first[0] if isinstance(first, list | tuple) else first["arg_0"]


def _lmeval_choices(sample: dict) -> list[str]:
    """The options lm-eval scored (each continuation, without its target delimiter)."""
    arguments = sample["arguments"]
    pairs = arguments if isinstance(arguments, list) else list(arguments.values())
    return [(pair[1] if isinstance(pair, list | tuple) else pair["arg_1"]).strip() for pair in pairs]


def compare(lm_samples: list[dict], ours: Any) -> dict[str, Any]:
    """Agreement of one benchmark: lm-eval's pick is its own ``np.argmax`` over the summed
    log-likelihoods (the first maximum), ours the prediction our Evaluator reported."""
    rows = []
    for theirs, mine in zip(lm_samples, ours.samples, strict=True):
        lls = [float(resp[0]) for resp in theirs["filtered_resps"]]
        lm_pick = max(range(len(lls)), key=lambda c, lls=lls: (lls[c], -c))
        rows.append(
            {
                "same_prompt": _lmeval_prompt(theirs) == mine["prompt"],
                "lm_pick": lm_pick,
                "our_pick": mine["loglikelihoods"].index(max(mine["loglikelihoods"])),
                "our_prediction": mine["prediction"],
                "lm_correct": float(theirs["acc"]) == 1.0,  # lm-eval's own verdict
                "our_correct": bool(mine["correct"]),
                "dll": [abs(a - b) for a, b in zip(lls, mine["loglikelihoods"], strict=True)],
                "lm_label": _lmeval_choices(theirs)[lm_pick],
                "gold": mine["reference"],
            }
        )
        rows[-1]["max_dll"] = max(rows[-1]["dll"])
    n = len(rows)
    return {
        "n": n,
        "same_prompts": sum(r["same_prompt"] for r in rows),
        "same_picks": sum(r["lm_pick"] == r["our_pick"] for r in rows),
        "max_dll": max((r["max_dll"] for r in rows), default=0.0),
        "lm_accuracy": sum(r["lm_correct"] for r in rows) / n if n else 0.0,
        "our_accuracy": ours.metrics["accuracy"],
        "rows": rows,
    }


def measure(
    model_dir: Path,
    samples: Path,
    benchmarks: list[str],
    *,
    batch_size: int = 8,
    limit: int | None = None,
    repeat: int = 1,
    device: str = "cpu",
) -> dict[str, Any]:
    """Run both ``repeat`` times (alternating) and return agreement per benchmark and timings."""
    files = data_files(samples, benchmarks)
    times: dict[str, list[float]] = {
        "lm_load": [],
        "lm_tasks": [],
        "lm_score": [],
        "our_load": [],
        "our_score": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["HF_DATASETS_CACHE"] = str(Path(tmp) / "datasets-cache")  # no stale json cache
        task_dir = Path(tmp) / "tasks"
        task_dir.mkdir()
        tasks = write_tasks(task_dir, samples, benchmarks)
        for _ in range(repeat):
            lm, seconds = load_lmeval(model_dir, batch_size, device)
            times["lm_load"].append(seconds)
            lm_samples, setup, seconds = run_lmeval(lm, task_dir, tasks, limit)
            times["lm_tasks"].append(setup)
            times["lm_score"].append(seconds)
            del lm
            evaluator, seconds = load_ours(model_dir, batch_size, device)
            times["our_load"].append(seconds)
            ours, seconds = run_ours(evaluator, files, limit)
            times["our_score"].append(seconds)
            evaluator.backend.close()
    return {
        "benchmarks": {name: compare(lm_samples[name], ours[name]) for name in benchmarks},
        "times": times,
    }


def per_item_lines(name: str, figures: dict[str, Any]) -> list[str]:
    """One line per item: same prompt?, lm-eval's and our pick, the gold answer, |dLL| per option."""
    lines = [f"{name}: item, prompt, pick lm-eval/ours, gold, |dLL| per option"]
    for i, row in enumerate(figures["rows"]):
        agree = "" if row["lm_pick"] == row["our_pick"] else "  <- differ"
        lines.append(
            f"  {i:>4} {'same' if row['same_prompt'] else 'DIFF'}  {row['lm_label']}/{row['our_prediction']}"
            f"  gold {row['gold']}  " + " ".join(f"{d:.1e}" for d in row["dll"]) + agree
        )
    return lines


def report(
    figures: dict[str, Any], *, model: str, batch_size: int, repeat: int, per_item: bool = False
) -> str:
    import torch

    width = max(10, *(len(name) for name in figures["benchmarks"]))
    lines = [
        f"model {model}; batch size {batch_size}; float32 on CPU, torch threads {torch.get_num_threads()}; "
        f"zero-shot; best of {repeat}",
        f"{'benchmark':<{width}} {'rows':>5} {'same prompts':>13} {'identical picks':>17} {'max |dLL|':>10} "
        f"{'acc lm-eval':>12} {'acc ours':>9}",
    ]
    for name, f in figures["benchmarks"].items():
        picks = f"{f['same_picks']} ({100 * f['same_picks'] / f['n']:.1f}%)"
        lines.append(
            f"{name:<{width}} {f['n']:>5} {f['same_prompts']:>13} {picks:>17} {f['max_dll']:>10.1e} "
            f"{100 * f['lm_accuracy']:>11.1f}% {100 * f['our_accuracy']:>8.1f}%"
        )
    if per_item:
        for name, f in figures["benchmarks"].items():
            lines += per_item_lines(name, f)
    best = {key: min(values) for key, values in figures["times"].items()}
    lm_total = best["lm_load"] + best["lm_tasks"] + best["lm_score"]
    our_total = best["our_load"] + best["our_score"]
    lines += [
        f"time (s)   {'model load':>11} {'tasks+rows':>11} {'scoring':>9} {'total':>8}",
        f"lm-eval    {best['lm_load']:>11.2f} {best['lm_tasks']:>11.2f} {best['lm_score']:>9.2f} {lm_total:>8.2f}",
        f"ours       {best['our_load']:>11.2f} {'(in scoring)':>11} {best['our_score']:>9.2f} {our_total:>8.2f}",
        f"speed ratio ours/lm-eval (time): scoring {best['our_score'] / best['lm_score']:.2f}, "
        f"total {our_total / lm_total:.2f} (< 1: ours is faster)",
        "all runs: " + ", ".join(f"{k} {[round(v, 2) for v in vs]}" for k, vs in figures["times"].items()),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=REPO.parent / "shared" / "bionlp-samples")
    parser.add_argument("--model", default=None, help="local model folder or .gguf (default: SmolLM2-135M)")
    parser.add_argument("--benchmarks", default=",".join(PAIRS))
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument(
        "--limit", type=int, default=None, help="first N rows of each benchmark (default all)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="timings are the best of this many runs")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument(
        "--per-item", action="store_true", help="also print each item: both picks, gold, |dLL| per option"
    )
    args = parser.parse_args(argv)

    import torch

    from bioinstruct.models import resolve_model, small_instruct_model

    if args.threads:
        torch.set_num_threads(args.threads)
    benchmarks = [b.strip() for b in args.benchmarks.split(",") if b.strip()]
    unknown = [b for b in benchmarks if b not in PAIRS]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; expected some of {', '.join(PAIRS)}")
    model_dir = Path(resolve_model(args.model)) if args.model else small_instruct_model()
    figures = measure(
        model_dir, args.samples, benchmarks, batch_size=args.batch_size, limit=args.limit, repeat=args.repeat
    )
    shown = dict(model=str(model_dir), batch_size=args.batch_size, repeat=args.repeat, per_item=args.per_item)
    print(report(figures, **shown))
    perfect = all(f["same_picks"] == f["n"] for f in figures["benchmarks"].values())
    return 0 if perfect else 1


if __name__ == "__main__":
    sys.exit(main())
