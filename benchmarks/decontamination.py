"""Benchmark: decontaminating 25,005 rows against the full QA test sets, vs a naive reference.

    python benchmarks/decontamination.py                     # 25,005 rows, QA test sets at full size
    python benchmarks/decontamination.py --rows 2000 --check 5

What it measures:

1. Test items at their real sizes (MedQA 1,273, MedMCQA 4,183, PubMedQA 1,000, BioASQ yes/no 618:
   7,074 items), made from the real sample rows of ``../shared/bionlp-samples`` (``--samples``): each
   copy replaces 15% of the words of every text field with words drawn from that benchmark's own
   vocabulary, so lengths, vocabulary and schema are real and the items are distinct. They are
   written as JSONL in the Hub schema and loaded through the registry (``--data-file``'s path).
2. Rows: ``--rows`` instructions from ``benchmarks/dedup_vocab.json``'s templates with an input and
   an output of 0-120 and 5-60 words drawn from the samples' word frequencies, plus ``--plant``
   contaminated rows (half a test question pasted into the input, half a rewording that changes
   every 6th word: ROUGE-L ~0.83, no 6-gram shared).
3. Ours: index build + :func:`decontaminate` over every row (wall time), and recall on the planted rows.
4. Naive reference: ROUGE-L with ``rouge_score`` pair by pair (``RougeScorer.score``, as
   self-instruct), per-pair cost timed on random (row, item) pairs and extrapolated to rows x items.
5. Exactness: for ``--check`` rows, the reference maximum over every item of every benchmark (pre-
   tokenised rouge_score ``_score_lcs``) must give the same flag decisions, and the same score for
   flagged rows.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from rouge_score import rouge_scorer

from bioinstruct.decontamination.report import ContaminationIndex, decontaminate
from bioinstruct.similarity.tokenization import rouge_tokenize

sys.path.insert(0, str(Path(__file__).parent))
from dedup import _Generator  # noqa: E402 - the instruction generator of benchmarks/dedup.py

ROOT = Path(__file__).resolve().parent.parent
#: benchmark -> (sample file, items in the real test set)
FULL_SIZES = {
    "medqa": ("medqa.jsonl", 1273),
    "medmcqa": ("medmcqa.jsonl", 4183),
    "pubmedqa": ("pubmedqa.jsonl", 1000),
    "bioasq": ("bioasq_yesno.jsonl", 618),
}
ID_KEYS = ("id", "pubid", "_key")


def _strings(value, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for item in value.values():
            _strings(item, out)
    elif isinstance(value, list):
        for item in value:
            _strings(item, out)


def _perturb(value, rng: random.Random, vocab: list[str], rate: float):
    if isinstance(value, str):
        words = value.split()
        if len(words) < 4:  # labels, letters, answer ids: keep
            return value
        return " ".join(rng.choice(vocab) if rng.random() < rate else word for word in words)
    if isinstance(value, dict):
        return {key: _perturb(item, rng, vocab, rate) for key, item in value.items()}
    if isinstance(value, list):
        return [_perturb(item, rng, vocab, rate) for item in value]
    return value


def scaled_rows(path: Path, size: int, rng: random.Random, rate: float = 0.15) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts: list[str] = []
    _strings(rows, texts)
    vocab = [word for text in texts for word in text.split()]
    out = []
    for k in range(size):
        base = rows[k % len(rows)]
        row = base if k < len(rows) else _perturb(base, rng, vocab, rate)
        row = dict(row)
        for key in ID_KEYS:
            if key in row:
                row[key] = row[key] * 10_000 + k if isinstance(row[key], int) else f"{row[key]}-{k}"
        out.append(row)
    return out


def make_rows(n: int, vocab: list[str], rng: random.Random, seed: int) -> list[dict]:
    instructions = _Generator(seed, dup_rate=0.0).take(n)
    return [
        {
            "id": f"row-{i}",
            "instruction": spec["instruction"],
            "input": " ".join(rng.choices(vocab, k=rng.choice([0, 0, rng.randint(10, 120)]))),
            "output": " ".join(rng.choices(vocab, k=rng.randint(5, 60))),
        }
        for i, spec in enumerate(instructions)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=25_005, help="Instruction rows (default 25005).")
    parser.add_argument("--plant", type=int, default=100, help="Contaminated rows planted among them.")
    parser.add_argument("--check", type=int, default=10, help="Rows checked against rouge_score (all items).")
    parser.add_argument("--samples", default=str(ROOT.parent / "shared" / "bionlp-samples"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    samples = Path(args.samples)

    with tempfile.TemporaryDirectory() as tmp:
        files, vocab = {}, []
        for name, (sample, size) in FULL_SIZES.items():
            rows = scaled_rows(samples / sample, size, rng)
            files[name] = str(Path(tmp) / f"{name}.jsonl")
            Path(files[name]).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
            texts: list[str] = []
            _strings(rows[: len(rows) // 4], texts)
            vocab += [w for text in texts for w in text.split()]
        start = time.perf_counter()
        index = ContaminationIndex.from_benchmarks(list(FULL_SIZES), data_files=files)
        build_s = time.perf_counter() - start
    items = {s.name: s.items for s in index.test_sets}
    n_items = sum(len(v) for v in items.values())

    rows = make_rows(args.rows - args.plant, vocab, rng, args.seed)
    medqa = items["medqa"]
    planted = {}
    for k in range(args.plant):
        item = rng.choice(medqa)
        words = item.question.split()
        if k % 2:
            text = " ".join("reportedly" if i % 6 == 5 else w for i, w in enumerate(words))
            row = {"id": f"planted-{k}", "instruction": text, "input": "", "output": "C"}
        else:
            row = {
                "id": f"planted-{k}",
                "instruction": "Answer the question.",
                "input": item.input,
                "output": "A",
            }
        planted[row["id"]] = item.id
        rows.insert(rng.randrange(len(rows) + 1), row)

    start, cpu = time.perf_counter(), time.process_time()
    result = decontaminate(rows, index, progress=True)
    ours_s, ours_cpu = time.perf_counter() - start, time.process_time() - cpu
    report = result.report.to_dict()
    found = {f["row"]["id"]: f["overlaps"] for f in result.flagged}
    recall = sum(any(o["item_id"] == planted[i] for o in found.get(i, [])) for i in planted)
    unplanted = sum(1 for i in found if i not in planted)

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    queries = [f"{r['instruction']}\n{r['input']}" if r["input"] else r["instruction"] for r in rows]
    targets = [item.question or item.input for bench in items.values() for item in bench]
    pairs = [(rng.choice(queries), rng.choice(targets)) for _ in range(2000)]
    t0 = time.perf_counter()
    for query, target in pairs:
        scorer.score(target, query)
    ref_us = (time.perf_counter() - t0) / len(pairs) * 1e6
    ref_s = ref_us * len(rows) * n_items / 1e6

    print(
        f"test items: {n_items:,} ({', '.join(f'{k} {len(v):,}' for k, v in items.items())}); index built in {build_s:.2f} s"
    )
    print(f"rows: {len(rows):,} ({args.plant} planted); flagged {report['rows_flagged']} "
          f"(by method: {dict(Counter(o['method'] for f in result.flagged for o in f['overlaps']))})")  # fmt: skip
    print(
        f"planted rows found with the right MedQA item: {recall}/{len(planted)}; other rows flagged: {unplanted}"
    )
    print(f"ours: {ours_s:.2f} s wall ({ours_cpu:.2f} s CPU) for {len(rows):,} rows, "
          f"{ours_s / len(rows) * 1e6:.0f} µs a row; peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")  # fmt: skip
    print(f"rouge_score: {ref_us:.1f} µs a pair x {len(rows):,} rows x {n_items:,} items = "
          f"{ref_s / 3600:.1f} core-hours (ROUGE-L alone)")  # fmt: skip
    print(f"speed ratio (reference ROUGE-L / ours, both checks): {ref_s / ours_s:,.0f}x")
    sys.stdout.flush()

    checked = rng.sample(range(len(rows)), min(args.check, len(rows)))
    checked += [i for i, r in enumerate(rows) if r["id"] in planted][:2]
    tokenised = {
        name: [rouge_tokenize(i.question or i.input) for i in bench] for name, bench in items.items()
    }
    diffs, t0 = 0, time.perf_counter()
    for position in checked:
        ours = {
            o["benchmark"]: o
            for o in next((f["overlaps"] for f in result.flagged if f["position"] == position), [])
        }
        query = rouge_tokenize(queries[position])
        for name, bench_tokens in tokenised.items():
            best = max(rouge_scorer._score_lcs(target, query).fmeasure for target in bench_tokens)
            overlap = ours.get(name)
            if overlap is None or overlap["method"] == "rouge_l":
                diffs += (best >= index.rouge_threshold) != (overlap is not None)
                diffs += overlap is not None and overlap["score"] != best
    print(f"check: {len(checked)} rows x {n_items:,} items with rouge_score in {time.perf_counter() - t0:.0f} s: "
          f"{diffs} differences")  # fmt: skip
    return 1 if diffs or recall != len(planted) else 0


if __name__ == "__main__":
    sys.exit(main())
