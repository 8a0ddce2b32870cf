"""Our log-likelihood protocol against lm-evaluation-harness on MedQA: same choices, and the speed.

What it does, in one run:

1. builds a tiny-but-not-trivial random Llama (a few million parameters; its tokenizer is
   trained on the benchmark text so that " A" ... " D" are single tokens, as in real LLM
   vocabularies);
2. writes lm-eval's ``medqa_4options`` prompt as a *local* lm-eval task over the same rows
   (the shared MedQA samples in the Hub schema), because the Hub task needs the network;
3. runs ``lm_eval.simple_evaluate`` (as shipped, and with ``logits_cache=False``) and our
   ``Evaluator`` (template ``plain``, protocol ``loglik``) with the same batch size,
   alternating, best of ``--repeats``;
4. prints that every prompt is identical, the per-item agreement of the chosen options
   (target: 100%), the largest difference in log-likelihoods, and the speed ratios.

Why two lm-eval runs: scoring all single-token options from one forward pass is our main
lever, but lm-eval 0.4.x does the same by default (``logits_cache=True`` groups requests by
``context + continuation[:-1]``). Against that default the remaining differences are small
(we skip the language-model head and the log-softmax over every position); against
``logits_cache=False`` (one pass per option, what older harnesses did) the lever shows.

Run (``pip install "lm-eval[hf]==0.4.*"`` first; it is a benchmark-only dependency)::

    python benchmarks/eval_vs_lmeval.py [--samples ../shared/bionlp-samples] [--batch-size 8]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent

# lm-eval's lm_eval/tasks/medqa/medqa.yaml, with doc_to_text inlined from preprocess_medqa.doc_to_text
# ("Question: {sent1}\n" + "".join(f"{k}. {v}\n") + "Answer:") over the GBaker column names.
TASK_YAML = """\
task: medqa_4options_local
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data_file}
output_type: multiple_choice
test_split: test
doc_to_text: "Question: {{{{question}}}}\\nA. {{{{options.A}}}}\\nB. {{{{options.B}}}}\\nC. {{{{options.C}}}}\\nD. {{{{options.D}}}}\\nAnswer:"
doc_to_target: "{{{{['A', 'B', 'C', 'D'].index(answer_idx)}}}}"
doc_to_choice: ['A', 'B', 'C', 'D']
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
  - metric: acc_norm
    aggregation: mean
    higher_is_better: true
"""


def build_model(root: Path, rows: list[dict]) -> Path:
    from bioinstruct.training.tiny import build_tiny_llama

    corpus = [
        row["question"] + "\n" + "\n".join(f"{k}. {v}" for k, v in row["options"].items()) for row in rows
    ]
    corpus += [f"Answer: {letter}" for letter in "ABCD"] * 50
    return build_tiny_llama(
        root / "model",
        hidden_size=256,
        num_hidden_layers=4,
        num_attention_heads=8,
        num_key_value_heads=4,
        intermediate_size=1024,
        vocab_size=4096,
        max_position_embeddings=4096,
        corpus=corpus,
        seed=0,
    )


def run_lmeval(model_dir: Path, task_dir: Path, batch_size: int, logits_cache: bool = True):
    import lm_eval
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=str(task_dir))
    start, cpu = time.perf_counter(), time.process_time()
    out = lm_eval.simple_evaluate(
        model="hf",
        model_args=f"pretrained={model_dir},dtype=float32,logits_cache={logits_cache}",
        tasks=["medqa_4options_local"],
        task_manager=manager,
        batch_size=batch_size,
        device="cpu",
        log_samples=True,
    )
    elapsed = (time.perf_counter() - start, time.process_time() - cpu)
    samples = sorted(out["samples"]["medqa_4options_local"], key=lambda s: s["doc_id"])
    return elapsed, samples


def run_ours(model_dir: Path, data_file: Path, batch_size: int):
    from bioinstruct.evaluation.evaluator import Evaluator

    start, cpu = time.perf_counter(), time.process_time()
    evaluator = Evaluator(
        str(model_dir),
        progress=False,
        backend_options={"device": "cpu", "batch_size": batch_size, "dtype": "float32"},
    )
    result = evaluator.run("medqa", data_files={"medqa": str(data_file)}, protocol="loglik", template="plain")
    elapsed = (time.perf_counter() - start, time.process_time() - cpu)
    return elapsed, result.get("medqa")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=REPO.parent / "shared" / "bionlp-samples")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads; 1 keeps timings stable on a shared machine"
    )
    parser.add_argument(
        "--skip-no-cache",
        action="store_true",
        help="skip the lm-eval run with logits_cache=False (one forward pass per option)",
    )
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    data_file = (args.samples / "medqa.jsonl").resolve()
    rows = [json.loads(line) for line in data_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["HF_DATASETS_CACHE"] = str(root / "datasets-cache")
        model_dir = build_model(root, rows)
        n_params = sum(
            p.numel()
            for p in __import__("transformers").AutoModelForCausalLM.from_pretrained(model_dir).parameters()
        )
        task_dir = root / "tasks"
        task_dir.mkdir()
        (task_dir / "medqa_4options_local.yaml").write_text(
            TASK_YAML.format(data_file=data_file), encoding="utf-8"
        )

        lm_times, nocache_times, our_times = [], [], []
        for _ in range(args.repeats):  # alternate, so background load hits all alike
            lm_time, lm_samples = run_lmeval(model_dir, task_dir, args.batch_size)
            lm_times.append(lm_time)
            if not args.skip_no_cache:
                nocache_times.append(run_lmeval(model_dir, task_dir, args.batch_size, logits_cache=False)[0])
            our_time, ours = run_ours(model_dir, data_file, args.batch_size)
            our_times.append(our_time)

    letters = ["A", "B", "C", "D"]
    lm_choice = [max(range(4), key=lambda c, s=s: (s["filtered_resps"][c][0], -c)) for s in lm_samples]
    our_choice = [letters.index(s["prediction"]) for s in ours.samples]
    agree = sum(a == b for a, b in zip(lm_choice, our_choice, strict=True))
    max_diff = max(
        abs(s["filtered_resps"][c][0] - o["loglikelihoods"][c])
        for s, o in zip(lm_samples, ours.samples, strict=True)
        for c in range(4)
    )
    same_prompt = sum(
        s["arguments"][0][0] == o["prompt"]
        if isinstance(s["arguments"], list)
        else s["arguments"]["gen_args_0"]["arg_0"] == o["prompt"]
        for s, o in zip(lm_samples, ours.samples, strict=True)
    )
    lm_acc = sum(c == s["target"] for c, s in zip(lm_choice, lm_samples, strict=True)) / len(lm_samples)
    print(
        f"model: random Llama, {n_params / 1e6:.1f}M parameters; {len(rows)} MedQA rows; batch size {args.batch_size}; "
        f"torch threads {torch.get_num_threads()}"
    )
    print(f"identical prompts:        {same_prompt}/{len(rows)}")
    print(f"per-item agreement:       {agree}/{len(rows)} = {100 * agree / len(rows):.1f}% (target 100%)")
    print(f"max |loglik difference|:  {max_diff:.2e}")
    print(f"accuracy: lm-eval {100 * lm_acc:.1f}%, ours {100 * ours.metrics['accuracy']:.1f}%")
    runs = [
        ("lm-eval (default, logits_cache=True)", lm_times),
        ("lm-eval (logits_cache=False)", nocache_times),
    ]
    for name, times in runs:
        if not times:
            continue
        for what, index in (("wall", 0), ("CPU", 1)):
            theirs, mine = min(t[index] for t in times), min(t[index] for t in our_times)
            print(
                f"{what} time, best of {args.repeats}: {name} {theirs:.2f}s vs ours {mine:.2f}s -> "
                f"{theirs / mine:.2f}x (all runs: {[round(t[index], 2) for t in times]} vs "
                f"{[round(t[index], 2) for t in our_times]})"
            )


if __name__ == "__main__":
    main()
