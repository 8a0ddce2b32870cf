"""A hand-made run folder in the exact shape `bioinstruct generate` writes, with one of everything
the viewer shows: kept rows (with review and identifiers), a pending candidate, rejections by
several rules (similarity to a seed, to a kept row and to a pending candidate; blacklist; patient
identifiers; benchmark overlap), a kept candidate later dropped by answer_review, a surplus one,
and an instruction that tries to close the page's script element."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bioinstruct.generation.seeds import load_seed_tasks, seed_set_hash

XSS = "</script><script>alert(1)</script> Explain what an INR of 4.2 means for a patient on warfarin."
SECRET = "sk-viewer-SECRET-1234567890abcdef"
T0 = 1_760_000_000.0
SEEDS = ["seed_003", "seed_017", "seed_042"]
DRUGS = ("metformin", "lisinopril", "atorvastatin", "amoxicillin", "warfarin", "levothyroxine", "omeprazole",
         "salbutamol", "furosemide", "sertraline", "prednisone", "insulin glargine")  # fmt: skip
TOPICS = ("renal dosing", "common adverse effects", "monitoring", "contraindications", "patient counselling",
          "drug interactions", "use in pregnancy", "overdose management", "missed doses", "elderly patients")  # fmt: skip
FILLER_WORD = "zebrafish"  # appears in exactly one filler row, for the search test


def _request(t: float, request_id: str, kind: str = "generate") -> list[dict[str, Any]]:
    return [
        {"event": "request", "time": t, "kind": kind, "request_id": request_id, "seed_ids": SEEDS,
         "prompt": "You are helping to build a collection of varied biomedical tasks ..."},
        {"event": "reply", "time": t + 2.5, "kind": kind, "request_id": request_id, "finish_reason": "stop",
         "text": "###\n1. Instruction: ...", "refusal": None, "prompt_tokens": 800, "completion_tokens": 700,
         "cost_usd": 0.0005, "attempts": 1, "response_id": "chatcmpl-x", "model": "gpt-4o-mini"},
    ]  # fmt: skip


def _candidate(t: float, cid: str, decision: str, instruction: str, input_text: str, output: str,
               **extra: Any) -> dict[str, Any]:  # fmt: skip
    return {"event": "candidate", "time": t, "decision": decision, "id": cid, "request_id": cid.rsplit("-", 1)[0],
            "seed_ids": SEEDS, "instruction": instruction, "input": input_text, "output": output, **extra}  # fmt: skip


def _row(candidate: dict[str, Any], category: str, **extra: Any) -> dict[str, Any]:
    row = {key: candidate[key] for key in ("id", "instruction", "input", "output")}
    return {**row, "category": category, "label_source": "teacher", "seed_ids": SEEDS,
            "request_id": candidate["request_id"], "teacher_model": "gpt-4o-mini",
            "most_similar": candidate["most_similar"], **extra}  # fmt: skip


def filler(n: int) -> tuple[str, str, str]:
    drug, topic = DRUGS[n % len(DRUGS)], TOPICS[(n // len(DRUGS)) % len(TOPICS)]
    word = f" in a {FILLER_WORD} study" if n == 7 else ""
    return (
        f"Summarize the key points about {drug} for {topic}{word} (case {n}).",
        f"Clinic note {n}: adult patient started on {drug}; questions about {topic}.",
        f"{drug.capitalize()}: review {topic} at each visit and document the plan (note {n}).",
    )


def write_run(folder: Path, fillers: int = 0, status: str = "running") -> Path:
    """Write the run into ``folder`` (created); ``fillers`` extra kept rows for paging and search."""
    seed = load_seed_tasks()[0]  # seed_001: what the first similarity rejection is close to
    folder.mkdir(parents=True, exist_ok=True)
    events = _request(T0, "gen-000001")
    t = T0 + 3
    kept_note = _candidate(t, "gen-000001-01", "kept",
                           "Summarize the discharge note in two sentences for the patient's general practitioner.",
                           "MRN 12345678. Admitted with community-acquired pneumonia, treated with amoxicillin; improved.",
                           "Admitted with pneumonia and treated with amoxicillin; discharged improved with follow-up.",
                           most_similar={"id": "seed_003", "score": 0.1212})  # fmt: skip
    xss = _candidate(t + 1, "gen-000001-05", "kept", XSS, "", "The blood clots much more slowly than intended.",
                     most_similar={"id": "gen-000001-01", "score": 0.0833})  # fmt: skip
    dropped = _candidate(t + 2, "gen-000001-06", "kept", "Give the usual adult dose of paracetamol.", "",
                         "4 g every 4 hours.", most_similar={"id": "seed_017", "score": 0.2})  # fmt: skip
    events += [
        kept_note,
        _candidate(t, "gen-000001-02", "rejected", seed["instruction"] + " Answer briefly.", seed["input"], "4",
                   filter="similarity", reason="ROUGE-L 0.950 >= 0.7 with seed_001",
                   most_similar={"id": "seed_001", "score": 0.95}),
        _candidate(t, "gen-000001-03", "rejected",
                   "Summarize the discharge note in two sentences for the general practitioner.", "", "...",
                   filter="similarity", reason="ROUGE-L 0.880 >= 0.7 with gen-000001-01",
                   most_similar={"id": "gen-000001-01", "score": 0.88}),
        _candidate(t, "gen-000001-04", "rejected", "Draw a diagram of the nephron.", "", "A nephron.",
                   filter="blacklist", reason="instruction contains blacklisted word 'draw'"),
        xss,
        dropped,
        _candidate(t + 2, "gen-000001-07", "rejected", "Write a referral letter for the patient.",
                   "John Smith, born 02/03/1961, phone 555-0134.", "Dear colleague, ...",
                   filter="patient_identifiers", reason="input names a patient (NAME, DATE, PHONE)",
                   identifiers=[{"kind": "NAME", "field": "input", "start": 0, "end": 10, "text": "John Smith"},
                                {"kind": "DATE", "field": "input", "start": 17, "end": 27, "text": "02/03/1961"}]),
        _candidate(t + 2, "gen-000001-08", "rejected", "Is aspirin recommended for primary prevention in adults over 70?",
                   "", "no", filter="benchmark_overlap", reason="13-gram overlap with pubmedqa test item 12345",
                   overlap=[{"benchmark": "pubmedqa", "item_id": "12345", "method": "ngram", "score": 1.0,
                             "item_text": "Is aspirin recommended for primary prevention in older adults?",
                             "match": "aspirin recommended for primary prevention"}]),
    ]  # fmt: skip
    events += _request(t + 4, "lab-000001", "label")
    events += [
        {"event": "accepted", "time": t + 7, "id": "gen-000001-01", "category": "GEN"},
        {"event": "accepted", "time": t + 7, "id": "gen-000001-05", "category": "QA"},
        {"event": "reviewed", "time": t + 8, "id": "gen-000001-06", "request_id": "gen-000001", "attempts": 1,
         "problem": None, "review": {"correctness": 1, "completeness": 3, "safety": 1, "reviewer": "gpt-4o",
                                     "rationale": "Every 4 hours exceeds 4 g/day.", "passed": False}},
        {"event": "dropped", "time": t + 8, "id": "gen-000001-06", "request_id": "gen-000001", "filter": "answer_review",
         "reason": "scored under 3: correctness 1, safety 1; Every 4 hours exceeds 4 g/day."},
    ]  # fmt: skip
    events += _request(t + 10, "gen-000002")
    t += 13
    pending = _candidate(t, "gen-000002-01", "kept", "List the red-flag symptoms of cauda equina syndrome.", "",
                         "Saddle anaesthesia, bladder or bowel dysfunction, bilateral leg weakness.",
                         most_similar={"id": "gen-000001-05", "score": 0.05})  # fmt: skip
    events += [
        pending,
        {"event": "reviewed", "time": t + 1, "id": "gen-000002-01", "request_id": "gen-000002", "attempts": 1,
         "problem": None, "review": {"correctness": 4, "completeness": 4, "safety": 5, "reviewer": "gpt-4o",
                                     "rationale": "Complete list.", "passed": True}},
        _candidate(t, "gen-000002-02", "rejected", "List the red-flag symptoms of cauda equina.", "", "...",
                   filter="similarity", reason="ROUGE-L 0.923 >= 0.7 with gen-000002-01",
                   most_similar={"id": "gen-000002-01", "score": 0.9231}),
        _candidate(t, "gen-000002-03", "surplus", "Explain the mechanism of action of loop diuretics.", "",
                   "They block the Na-K-2Cl cotransporter.", most_similar={"id": "seed_042", "score": 0.1}),
    ]  # fmt: skip
    rows = [
        _row(kept_note, "GEN", review={"correctness": 5, "completeness": 4, "safety": 5, "passed": True,
                                       "rationale": "Accurate and concise.", "reviewer": "gpt-4o"},
             identifiers=[{"kind": "MRN", "field": "input", "start": 4, "end": 12, "text": "12345678"}]),
        _row(xss, "QA"),
    ]  # fmt: skip
    categories = ("QA", "IE", "GEN", "OTHER")
    for n in range(fillers):
        instruction, input_text, output = filler(n)
        cid = f"gen-000003-{n + 1:03d}"
        event = _candidate(t + 20 + n, cid, "kept", instruction, input_text, output,
                           most_similar={"id": "gen-000001-01", "score": round(0.05 + (n % 60) / 100, 4)})  # fmt: skip
        events.append(event)
        rows.append(_row(event, categories[n % 4]))
    with (folder / "journal.jsonl").open("w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(event) + "\n" for event in events)
    with (folder / "instructions.jsonl").open("w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row) + "\n" for row in rows)
    run = {
        "status": status, "stop_reason": None if status == "running" else "complete", "target": 10 + fillers,
        "config": {"teacher_model": "gpt-4o-mini", "base_url": f"https://user:{SECRET}@api.example.com/v1?key=x",
                   "api_key": SECRET, "hf_token": SECRET, "seed_set_hash": seed_set_hash(load_seed_tasks()),
                   "similarity_threshold": 0.7, "tokens_per_minute": None},
        "counters": {"kept": len(rows)}, "teacher": {"price_known": True, "pacing": {"source": "aimd"}},
        "files": {"instructions": "instructions.jsonl", "journal": "journal.jsonl"},
    }  # fmt: skip
    (folder / "run.json").write_text(json.dumps(run, indent=2), encoding="utf-8")
    return folder
