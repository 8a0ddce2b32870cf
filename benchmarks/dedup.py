"""Benchmark: bioinstruct's exact ROUGE-L filter against the rouge_score reference.

    python benchmarks/dedup.py --n 25000              # synthetic pool, 2,000 candidates checked
    python benchmarks/dedup.py --input data.json --field instruction --check 2000

What it measures:

1. Our greedy filter (:func:`bioinstruct.similarity.rouge.filter_near_duplicates`) over N
   instructions: wall time, peak RSS, exact pairs it scored.
2. The reference cost per pair: ``RougeScorer(["rougeL"]).score(new, existing)`` as in
   self-instruct's bootstrap script, timed on random pairs; its projected time for the whole
   run is that times the pairs the reference filter compares (each candidate against the seeds
   and every row kept before it).
3. Correctness: for ``--check`` random candidates, the reference max over the *full* pool that
   candidate faced, computed with rouge_score's own tokenizer and ``_score_lcs`` (Stanford
   Alpaca's form of the filter) in ``--workers`` processes. Every keep/drop decision, maximum
   score (bit for bit) and argmax must match ours.

The synthetic pool combines biomedical instruction templates and slot fillers
(``benchmarks/dedup_vocab.json``) with controlled near-duplicates: a fraction ``--dup-rate`` of
rows re-uses an earlier row with one perturbation (slot value or context clause swapped, modifier
added or removed,
filler word inserted, word deleted, two words swapped). Deterministic for a given ``--seed``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import resource
import sys
import time
from pathlib import Path

from rouge_score import rouge_scorer
from tqdm import tqdm

from bioinstruct.jsonio import read_records
from bioinstruct.similarity.near_duplicates import filter_near_duplicates
from bioinstruct.similarity.tokenization import get_tokenizer

VOCAB = Path(__file__).with_name("dedup_vocab.json")
SLOTS = (
    "drug",
    "drug2",
    "disease",
    "disease2",
    "gene",
    "organ",
    "population",
    "symptom",
    "test",
    "procedure",
)


class _Generator:
    """Deterministic instruction-like sentences with controlled near-duplicates."""

    def __init__(self, seed: int, dup_rate: float) -> None:
        self.vocab = json.loads(VOCAB.read_text(encoding="utf-8"))
        self.rng = random.Random(seed)
        self.dup_rate = dup_rate
        self.made: list[dict] = []

    def _fresh(self) -> dict:
        pick = self.rng.choice
        slots = {name: pick(self.vocab[name.rstrip("2")]) for name in SLOTS}
        return {
            "template": pick(self.vocab["templates"]),
            "slots": slots,
            "context": pick(self.vocab["contexts"]),
            "prefix": pick(self.vocab["prefixes"]),
            "suffix": pick(self.vocab["suffixes"]),
            "edit": None,
        }

    def _perturb(self, base: dict) -> dict:
        spec = {**base, "slots": dict(base["slots"])}
        kind = self.rng.choice(["slot", "context", "prefix", "suffix", "filler", "delete", "swap"])
        if kind == "slot":
            name = self.rng.choice(SLOTS)
            spec["slots"][name] = self.rng.choice(self.vocab[name.rstrip("2")])
        elif kind == "context":
            spec["context"] = self.rng.choice(self.vocab["contexts"])
        elif kind in ("prefix", "suffix"):
            spec[kind] = self.rng.choice(self.vocab[kind + "es"])
        else:
            spec["edit"] = (kind, self.rng.random(), self.rng.choice(self.vocab["fillers"]))
        return spec

    @staticmethod
    def render(spec: dict) -> str:
        template = spec["template"]
        body = (template[:-1] + spec["context"] + template[-1]).format(**spec["slots"])
        if spec["prefix"]:
            body = spec["prefix"] + body[0].lower() + body[1:]
        words = (body + spec["suffix"]).split()
        if spec["edit"]:
            kind, where, filler = spec["edit"]
            i = int(where * (len(words) - 1))
            if kind == "filler":
                words.insert(i + 1, filler)
            elif kind == "delete" and len(words) > 3:
                del words[i]
            elif kind == "swap":
                words[i], words[i + 1] = words[i + 1], words[i]
        return " ".join(words)

    def take(self, n: int) -> list[dict]:
        rows = []
        for i in range(n):
            if self.made and self.rng.random() < self.dup_rate:
                spec = self._perturb(self.rng.choice(self.made))
            else:
                spec = self._fresh()
            self.made.append(spec)
            rows.append({"id": f"gen-{i}", "instruction": self.render(spec)})
        return rows


# -- reference check (rouge_score), in worker processes ------------------------------------------

_POOL_TOKENS: list[list[str]] = []  # set before forking the workers
_POOL_OF: list[int] = []  # candidate position -> number of pooled items it is compared with
_CAND_TOKENS: list[list[str]] = []


def _reference_max(position: int) -> tuple[int, float, int]:
    new = _CAND_TOKENS[position]
    best, best_at = -1.0, -1
    for j in range(_POOL_OF[position]):
        f = rouge_scorer._score_lcs(new, _POOL_TOKENS[j]).fmeasure
        if f > best:
            best, best_at = f, j
    return position, float(best), best_at


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=25_000, help="Number of instructions (default 25000).")
    parser.add_argument("--input", help="JSON/JSONL instruction file to use instead of the synthetic pool.")
    parser.add_argument("--field", default="instruction", help="Text field of --input rows.")
    parser.add_argument("--check", type=int, default=2000, help="Candidates checked against rouge_score.")
    parser.add_argument(
        "--threshold",
        type=float,
        default=0.7,
        help="Drop if ROUGE-L F >= threshold (keep only scores below it).",
    )
    parser.add_argument("--tokenizer", default="rouge", choices=["rouge", "biomedical"], help="Tokenizer.")
    parser.add_argument("--dup-rate", type=float, default=0.3, help="Share of synthetic near-duplicates.")
    parser.add_argument("--seed", type=int, default=0, help="Random seed (pool and checked subset).")
    parser.add_argument("--workers", type=int, default=2, help="Processes for the reference check.")
    args = parser.parse_args(argv)

    if args.input:
        rows = read_records(args.input)[: args.n]
    else:
        rows = _Generator(args.seed, args.dup_rate).take(args.n)
    texts = [row[args.field] for row in rows]
    print(f"pool: {len(rows)} instructions ({args.input or f'synthetic, dup-rate {args.dup_rate}'})")

    start, cpu_start = time.perf_counter(), time.process_time()
    result = filter_near_duplicates(
        rows, threshold=args.threshold, field=args.field, tokenizer=args.tokenizer, progress=True
    )
    ours_s, ours_cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
    rss_mb = _peak_rss_mb()

    dropped = {d["position"]: d for d in result.dropped}
    kept_positions = [i for i in range(len(rows)) if i not in dropped]
    ours = {
        i: (row["most_similar"]["score"], row["most_similar"]["id"])
        for i, row in zip(kept_positions, result.kept, strict=True)
    }
    ours.update({i: (d["most_similar"]["score"], d["most_similar"]["id"]) for i, d in dropped.items()})
    pool_of, kept_so_far = [], 0
    for i in range(len(rows)):
        pool_of.append(kept_so_far)
        kept_so_far += i not in dropped
    reference_pairs = sum(pool_of)

    # Reference cost per pair, the self-instruct way (tokenize both texts, Python LCS table).
    tok = get_tokenizer(args.tokenizer)

    class _Tok:
        tokenize = staticmethod(tok)

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False, tokenizer=_Tok())
    rng = random.Random(args.seed + 1)
    sample = [(rng.choice(texts), rng.choice(texts)) for _ in range(3000)]
    t0 = time.perf_counter()
    for a, b in sample:
        scorer.score(a, b)
    ref_us = (time.perf_counter() - t0) / len(sample) * 1e6
    ours_us = ours_s / max(reference_pairs, 1) * 1e6

    print(f"kept {len(result.kept)}, dropped {len(result.dropped)} (threshold {args.threshold})")
    print(
        f"ours:        {ours_s:.2f} s wall ({ours_cpu_s:.2f} s CPU), peak RSS {rss_mb:.0f} MB, {result.pairs_scored:,} exact LCS pairs"
    )
    print(
        f"             {ours_us:.4f} µs per reference pair ({reference_pairs:,} pairs the reference compares)"
    )
    print(f"rouge_score: {ref_us:.1f} µs per pair (RougeScorer.score)")
    print(f"speed ratio: {ref_us / ours_us:,.0f}x")
    print(
        f"projected reference time for N={len(rows)}: {ref_us * reference_pairs / 1e6 / 3600:.1f} core-hours"
    )
    sys.stdout.flush()

    # Reference check over the full pool each checked candidate faced.
    global _POOL_TOKENS, _POOL_OF, _CAND_TOKENS
    _CAND_TOKENS = [scorer._tokenizer.tokenize(t) for t in texts]
    _POOL_TOKENS = [_CAND_TOKENS[i] for i in kept_positions]
    _POOL_OF = pool_of
    eligible = [i for i in range(len(rows)) if pool_of[i] > 0]
    checked = rng.sample(eligible, min(args.check, len(eligible)))
    done, decision_diffs, score_diffs, argmax_diffs, check_pairs = 0, 0, 0, 0, 0
    t0 = time.perf_counter()
    try:  # Ctrl-C stops the check early and still reports the candidates checked so far
        with mp.get_context("fork").Pool(args.workers) as pool:
            for pos, ref_max, ref_at in tqdm(
                pool.imap_unordered(_reference_max, checked, chunksize=2),
                total=len(checked),
                desc="rouge_score check",
                file=sys.stderr,
            ):
                score, similar = ours[pos]
                decision_diffs += (ref_max >= args.threshold) != (score >= args.threshold)
                score_diffs += ref_max != score
                argmax_diffs += str(rows[kept_positions[ref_at]].get("id", kept_positions[ref_at])) != similar
                done += 1
                check_pairs += pool_of[pos]
    except KeyboardInterrupt:
        print("check interrupted", file=sys.stderr)
    print(
        f"check: {done} candidates x full pool = {check_pairs:,} rouge_score pairs in "
        f"{time.perf_counter() - t0:.0f} s ({args.workers} workers): decision diffs {decision_diffs}, "
        f"score diffs {score_diffs}, argmax diffs {argmax_diffs}"
    )
    return 1 if decision_diffs or score_diffs or argmax_diffs else 0


if __name__ == "__main__":
    sys.exit(main())
