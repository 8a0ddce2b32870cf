"""An evaluation folder with one of everything the evaluation viewer shows, written by the real
writer (:meth:`EvalResults.save`) from hand-made results: a base model and an adapter on MedQA
(generative: parsed letters, unparseable replies, a letter/text conflict, a reply that tries to
close the page's script), PubMedQA (log-likelihood) and MeQSum (free text, ROUGE-L per item, LLM
judge), with metrics, CIs and diagnostics computed the way the evaluator computes them, an
endpoint with credentials in the protocol, and ``fillers`` more MedQA items for paging."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bioinstruct.benchmarks import metrics as metric_fns
from bioinstruct.evaluation import diagnostics
from bioinstruct.evaluation.answer_parsing import parse_answer
from bioinstruct.evaluation.report import BenchmarkResult, EvalResults

MODEL = "models/Llama-3.2-1B-Instruct"
ADAPTER = "bioinstruct-lora"
SECRET = "sk-evalviewer-SECRET-1234567890abcdef"
XSS = "</script><script>alert(1)</script> B"
SEARCH_WORD = "dantrolene"  # in exactly one prompt, for the search test
LETTERS = ["A", "B", "C", "D"]

#: (id, question, options, gold, base reply, adapter reply); None: the reply names no choice
MEDQA = [
    ("q001", "A 24-year-old runner collapses in July heat with a core temperature of 41.2 C and confusion. "
     "What is the first step in management?", ["Oral fluids", "Rapid cold water immersion",
     "Intravenous dantrolene", "Head CT"], 1, "A. Oral fluids", "B. Rapid cold water immersion"),
    ("q002", "Which enzyme is inhibited by allopurinol?", ["Xanthine oxidase", "Adenosine deaminase",
     "HGPRT", "Urate oxidase"], 0, "A", "A"),
    ("q003", "A 60-year-old man on warfarin has an INR of 9 without bleeding. What is the next step?",
     ["Stop warfarin and give oral vitamin K", "Fresh frozen plasma", "Continue warfarin", "Protamine"],
     0, "The patient is on warfarin. The patient is on warfarin.", "A. Stop warfarin and give oral vitamin K"),
    ("q004", "Which drug is first line for absence seizures in children?", ["Ethosuximide", "Phenytoin",
     "Carbamazepine", "Phenobarbital"], 0, "C", XSS),
    ("q005", "Koplik spots are seen in which infection?", ["Mumps", "Rubella", "Measles", "Chickenpox"],
     2, "D", "D"),
    ("q006", "What is the antidote for methanol poisoning?", ["Naloxone", "Fomepizole", "Flumazenil",
     "Atropine"], 1, "B. Naloxone", "Fomepizole"),
]  # fmt: skip
#: (id, question, gold, base log-likelihoods, adapter log-likelihoods) over yes / no / maybe
PUBMEDQA = [
    ("p1", "Does daily walking reduce fasting glucose in adults with prediabetes?", 0, [-0.9, -1.4, -2.8], [-0.6, -1.9, -3.1]),
    ("p2", "Is postoperative coffee associated with earlier return of bowel function?", 0, [-1.5, -1.1, -2.2], [-0.8, -1.6, -2.4]),
    ("p3", "Does vitamin D supplementation prevent fractures in community-dwelling adults?", 1, [-0.7, -1.8, -2.0], [-0.7, -1.8, -2.0]),
    ("p4", "Are statins associated with new-onset diabetes?", 0, [-2.0, -0.9, -1.2], [-2.1, -0.8, -1.3]),
]  # fmt: skip
#: (id, message, reference, base summary, adapter summary)
MEQSUM = [
    ("9000.txt", "I started lisinopril last month and now I have a dry cough every night. Is the cough from the "
     "pill and what can I take instead?", "Can lisinopril cause a dry cough, and what are the alternatives?",
     "What is lisinopril?", "Can lisinopril cause a cough and what can replace it?"),
    ("9001.txt", "My mother is 79 and the surgeon suggests a knee replacement. How long is recovery?",
     "How long is recovery after knee replacement in older adults?", "", "How long is knee replacement recovery at 79?"),
    ("9002.txt", "Can I take ibuprofen with my blood pressure pills?", "Can ibuprofen be taken with blood pressure "
     "medicines?", "Can ibuprofen be taken with blood pressure pills?", "Can ibuprofen be taken with blood pressure pills?"),
]  # fmt: skip


def _prompt(question: str, options: list[str]) -> str:
    lines = [f"{letter}. {text}" for letter, text in zip(LETTERS, options, strict=False)]
    return "Question: " + question + "\n" + "\n".join(lines) + "\nAnswer:"


def _parse(reply: str, options: list[str]) -> Any:
    """What the evaluator's parser makes of a reply (index, reason, conflict)."""
    return parse_answer(reply, LETTERS[: len(options)], options, None)


def _protocol(word: str, task: str, adapter: str | None) -> dict[str, Any]:
    return {"task": task, "protocol": word, "template": "bioinstruct", "num_fewshot": 0, "model": MODEL,
            "adapter": adapter, "adapter_path": f"runs/train/{ADAPTER}" if adapter else None,
            "data_source": "local file data/test.jsonl", "items": "every row of the supplied file",
            "backend": {"backend": "openai", "endpoint": f"https://user:{SECRET}@api.example.com/v1"}}  # fmt: skip


def _medqa(adapter: str | None, fillers: int) -> BenchmarkResult:
    rows = list(MEDQA) + [
        (f"f{i:04d}", f"Filler question {i} about renal dosing of drug {i}?", ["Halve the dose", "Keep the dose",
         "Double the dose", "Stop the drug"], i % 4, LETTERS[(i + (i % 4 == 1)) % 4], LETTERS[(i + (i % 6 == 1)) % 4])
        for i in range(fillers)
    ]  # fmt: skip
    samples = []
    for item_id, question, options, gold, base_reply, tuned_reply in rows:
        reply = base_reply if adapter is None else tuned_reply
        parsed = _parse(reply, options)
        index = parsed.index
        sample = {"id": item_id, "prompt": _prompt(question, options),
                  "prediction": LETTERS[index] if index is not None else None, "reference": LETTERS[gold],
                  "correct": index == gold, "output": reply}  # fmt: skip
        if parsed.reason:
            sample["unparseable"] = parsed.reason
        if parsed.conflict is not None:
            sample["letter_text_conflict"] = LETTERS[parsed.conflict]
        samples.append(sample)
    return _choice_result("medqa", adapter, samples, [4] * len(samples), "generative")


def _choice_result(
    name: str, adapter: str | None, samples: list[dict], options: list[int], word: str
) -> BenchmarkResult:
    correct = [float(s["correct"]) for s in samples]
    checks = diagnostics.choice_diagnostics(
        [s["prediction"] for s in samples], [s["reference"] for s in samples], options
    )
    unparseable = sum(s["prediction"] is None for s in samples) if word == "generative" else None
    return BenchmarkResult(name, MODEL, adapter, {"accuracy": sum(correct) / len(correct)}, len(samples), "accuracy",
                           unparseable, metric_fns.bootstrap_ci(correct), _protocol(word, "multiple_choice", adapter),
                           samples, checks)  # fmt: skip


def _pubmedqa(adapter: str | None) -> BenchmarkResult:
    labels, samples = ["yes", "no", "maybe"], []
    for item_id, question, gold, base, tuned in PUBMEDQA:
        scores = base if adapter is None else tuned
        choice = max(range(3), key=lambda c: (scores[c], -c))
        samples.append({"id": item_id, "prompt": f"Question: {question}\nAnswer:", "prediction": labels[choice],
                        "reference": labels[gold], "correct": choice == gold, "loglikelihoods": scores})  # fmt: skip
    return _choice_result("pubmedqa", adapter, samples, [3] * len(samples), "loglikelihood")


def _meqsum(adapter: str | None) -> BenchmarkResult:
    predictions = [base if adapter is None else tuned for _, _, _, base, tuned in MEQSUM]
    scores = [item["rougeL"] for item in metric_fns.rouge_per_item(predictions, [row[2] for row in MEQSUM])]
    samples = [
        {"id": item_id, "prompt": f"Summarize the question.\nMESSAGE: {message}\nAnswer:", "prediction": prediction,
         "reference": reference, "score": score, "judge": {"coherence": 4 if prediction else 1},
         "judge_reply": '{"coherence": 4}'}
        for (item_id, message, reference, _, _), prediction, score in zip(MEQSUM, predictions, scores, strict=True)
    ]  # fmt: skip
    return BenchmarkResult("meqsum", MODEL, adapter, {"rougeL": sum(scores) / len(scores)}, len(samples), "rougeL",
                           None, metric_fns.bootstrap_ci(scores), _protocol("generative", "generation", adapter),
                           samples, diagnostics.text_diagnostics(predictions))  # fmt: skip


def write_eval(folder: Path, fillers: int = 0) -> Path:
    """Write the evaluation folder (results.json, samples/, results.md, results.png) to ``folder``."""
    results = [
        builder(adapter)
        for adapter in (None, ADAPTER)
        for builder in (lambda a: _medqa(a, fillers), _pubmedqa, _meqsum)
    ]
    out = EvalResults(results, {"bioasq": "local data not supplied (--data-file bioasq=...)"}).save(folder)
    (out / "evaluate.yaml").write_text(
        f"model: {MODEL}\nadapters: [runs/train/{ADAPTER}]\napi_key: {SECRET}\n"
    )
    return out
