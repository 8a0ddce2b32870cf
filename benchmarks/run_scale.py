"""Benchmark: a generation run at 100k rows - resuming it, and viewing it in a browser.

    python benchmarks/run_scale.py                      # 100,000 rows (a few minutes)
    python benchmarks/run_scale.py --rows 5000          # quick
    python benchmarks/run_scale.py --folder runs/scale --keep
    python benchmarks/run_scale.py --rows 3000 --screenshot docs/images/run_viewer.png   # the README's picture

What it does: synthesizes a run folder in the exact shape `bioinstruct generate` writes
(instructions.jsonl with N rows of ~60 words each, with review scores and a few flagged patient
identifiers; a journal with the matching request / reply / parse / candidate / accepted events,
prompts and reply texts included, rejections by several rules, drops by answer_review, surplus, and
a few candidates still pending their label; run.json), then measures, each in a fresh subprocess so
peak RSS (``ru_maxrss``) is that step's alone:

1. ``recover``: :func:`bioinstruct.generation.journal.recover` on the folder (what a resumed run does first);
2. ``index``: filling :class:`bioinstruct.similarity.rouge.SimilarityIndex` with the seeds and every
   kept and pending instruction, as :class:`bioinstruct.generation.decisions.CandidateDecisions` does
   (the rows are read first, untimed);
3. ``resume``: both in one process: the time and memory before a resumed run sends its first request;
4. ``view``: :func:`bioinstruct.viewer.write_view`: time, peak RSS, HTML size;
5. ``browser``: the page in headless Chromium (Selenium, system chromedriver): first contentful paint
   and the time until the first page of rows exists (the page's ``first-rows`` mark), both from
   navigation start; then one search over all rows; and the JS heap.

Goals: resume <= 10 s and <= 2 GB peak RSS; viewer first paint <= 2 s at 100k rows (the first page
of rows is reported against the same 2 s).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

VOCAB = Path(__file__).with_name("dedup_vocab.json")
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
PER_PROMPT, SHOWN_SEEDS, LABEL_BATCH = 20, 3, 20
PRICE_IN, PRICE_OUT = 0.15e-6, 0.6e-6  # gpt-4o-mini, dollars per token
GOALS = {"resume_s": 10.0, "resume_rss_mb": 2048.0, "first_paint_ms": 2000.0, "first_rows_ms": 2000.0}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- the synthetic run ------------------------------------------------------------------------------


class _Text:
    """Instruction, input and output of ~60 words together, from the dedup benchmark's vocabulary."""

    def __init__(self, seed: int) -> None:
        self.vocab = json.loads(VOCAB.read_text(encoding="utf-8"))
        self.rng = random.Random(seed)

    def _slots(self) -> dict[str, str]:
        pick, v = self.rng.choice, self.vocab
        names = ("drug", "disease", "gene", "organ", "population", "symptom", "test", "procedure")
        return {
            **{name: pick(v[name]) for name in names},
            "drug2": pick(v["drug"]),
            "disease2": pick(v["disease"]),
        }

    def task(self) -> tuple[str, str, str]:
        pick, s = self.rng.choice, self._slots()
        template = pick(self.vocab["templates"])
        context = pick(self.vocab["contexts"])
        instruction = (template[:-1] + context + template[-1]).format(**s)
        age = self.rng.randint(19, 91)
        note = (
            f"{age}-year-old with {s['disease']} on {s['drug']}, presenting with {s['symptom']} for "
            f"{self.rng.randint(2, 21)} days. {s['test']} is abnormal; {s['organ']} function was normal last year. "
            f"Family history of {s['disease2']}."
        )
        answer = (
            f"The most likely explanation is {s['disease']} affecting the {s['organ']}; confirm with {s['test']}, "
            f"review {s['drug']} (consider {s['drug2']}), and refer for {s['procedure']} if {s['symptom']} persists."
        )
        return instruction, note if self.rng.random() < 0.7 else "", answer


def _prompt(seeds: list[dict[str, Any]]) -> str:
    shown = "".join(
        f"###\n{i}. Instruction: {s['instruction']}\n{i}. Input:\n{s['input'] or '<noinput>'}\n{i}. Output:\n{s['output']}\n"
        for i, s in enumerate(seeds, start=1)
    )
    return f"You are helping to build a collection of {PER_PROMPT} varied biomedical tasks ...\n\n{shown}###\n4. Instruction:"


def synthesize(folder: Path, rows: int, seed: int = 0) -> dict[str, int]:
    """Write a run of ``rows`` accepted rows (plus pending, rejected, dropped, surplus) into ``folder``."""
    from bioinstruct.generation.seeds import load_seed_tasks, seed_set_hash

    rng, text, seeds = random.Random(seed), _Text(seed), load_seed_tasks()
    folder.mkdir(parents=True, exist_ok=True)
    journal = (folder / "journal.jsonl").open("w", encoding="utf-8")
    instructions = (folder / "instructions.jsonl").open("w", encoding="utf-8")
    clock, kept_ids, waiting, counts = 1_760_000_000.0, [], [], {"rows": 0, "events": 0, "candidates": 0}
    tokens, cost = [0, 0], 0.0

    def write(event: str, **fields: Any) -> None:
        nonlocal clock
        clock += rng.uniform(0.0, 0.02)
        journal.write(
            json.dumps({"event": event, "time": round(clock, 3), **fields}, ensure_ascii=False) + "\n"
        )
        counts["events"] += 1

    def reply(kind: str, request_id: str, prompt: str, reply_text: str) -> None:
        nonlocal cost
        p, c = len(prompt) // 4, len(reply_text) // 4
        tokens[0] += p
        tokens[1] += c
        cost += p * PRICE_IN + c * PRICE_OUT
        write("reply", kind=kind, request_id=request_id, finish_reason="stop", text=reply_text, refusal=None,
              prompt_tokens=p, completion_tokens=c, cost_usd=round(p * PRICE_IN + c * PRICE_OUT, 8), attempts=1,
              response_id=f"chatcmpl-{request_id}", model="gpt-4o-mini")  # fmt: skip

    def label(batch: list[dict[str, Any]], number: int) -> None:
        request_id = f"lab-{number:06d}"
        prompt = "Assign each biomedical task instruction below ...\n" + "\n".join(
            f"{i}. {c['instruction']}" for i, c in enumerate(batch, start=1)
        )
        write("request", kind="label", request_id=request_id, ids=[c["id"] for c in batch], prompt=prompt)
        labels = [rng.choice(("QA", "QA", "IE", "GEN", "OTHER")) for _ in batch]
        reply("label", request_id, prompt, "\n".join(f"{i}. {x}" for i, x in enumerate(labels, start=1)))
        for candidate, category in zip(batch, labels, strict=True):
            if rng.random() < 0.01:  # the reviewer failed it: dropped, no row
                write("dropped", id=candidate["id"], filter="answer_review",
                      reason="scored under 3: correctness 2; the dose given is outside the usual range")  # fmt: skip
                continue
            if counts["rows"] >= rows:
                waiting.append(candidate)
                continue
            row = {key: candidate[key] for key in ("id", "instruction", "input", "output")}
            row |= {"category": category, "label_source": "teacher", "seed_ids": candidate["seed_ids"],
                    "request_id": candidate["request_id"], "teacher_model": "gpt-4o-mini",
                    "most_similar": candidate["most_similar"],
                    "review": {"correctness": rng.randint(3, 5), "completeness": rng.randint(3, 5),
                               "safety": rng.randint(4, 5), "rationale": "Accurate and complete for the stated case.",
                               "reviewer": "gpt-4o-mini", "passed": True}}  # fmt: skip
            if row["input"] and rng.random() < 0.02:
                row["identifiers"] = [
                    {"kind": "AGE_OVER_89", "field": "input", "start": 0, "end": 2, "text": row["input"][:2]}
                ]
            instructions.write(json.dumps(row, ensure_ascii=False) + "\n")
            counts["rows"] += 1
            write("accepted", id=row["id"], category=category)

    request, labels_sent, pending = 0, 0, []
    while counts["rows"] < rows:
        request += 1
        request_id, shown = f"gen-{request:06d}", rng.sample(seeds, SHOWN_SEEDS)
        prompt = _prompt(shown)
        write(
            "request",
            kind="generate",
            request_id=request_id,
            seed_ids=[s["id"] for s in shown],
            prompt=prompt,
        )
        tasks = [text.task() for _ in range(PER_PROMPT - SHOWN_SEEDS)]
        reply_text = "".join(
            f"###\n{n}. Instruction: {i}\n{n}. Input:\n{x or '<noinput>'}\n{n}. Output:\n{o}\n"
            for n, (i, x, o) in enumerate(tasks, start=SHOWN_SEEDS + 1)
        )
        reply("generate", request_id, prompt, reply_text)
        write(
            "parse", request_id=request_id, mode="numbered", candidates=len(tasks), truncated=0, problem=None
        )
        for position, (instruction, input_text, output) in enumerate(tasks, start=1):
            fields = {"id": f"{request_id}-{position:02d}", "request_id": request_id, "seed_ids": [s["id"] for s in shown],
                      "index": position + SHOWN_SEEDS, "instruction": instruction, "input": input_text, "output": output}  # fmt: skip
            near = rng.choice(kept_ids) if kept_ids and rng.random() < 0.8 else rng.choice(seeds)["id"]
            draw, counts["candidates"] = rng.random(), counts["candidates"] + 1
            if draw < 0.12:
                score = round(rng.uniform(0.7, 1.0), 4)
                write("candidate", decision="rejected", filter="similarity", reason=f"ROUGE-L {score:.3f} >= 0.7 with {near}",
                      **fields, most_similar={"id": near, "score": score})  # fmt: skip
            elif draw < 0.14:
                write(
                    "candidate",
                    decision="rejected",
                    filter="blacklist",
                    reason="instruction contains blacklisted word 'image'",
                    **fields,
                )
            elif draw < 0.15:
                write("candidate", decision="rejected", filter="patient_identifiers", reason="input names a patient (NAME)",
                      identifiers=[{"kind": "NAME", "field": "input", "start": 0, "end": 2, "text": input_text[:2]}], **fields)  # fmt: skip
            elif counts["rows"] + len(pending) >= rows + 15:  # the target is covered: surplus
                write("candidate", decision="surplus", most_similar={"id": near, "score": 0.2}, **fields)
            else:
                similar = {"id": near, "score": round(min(0.69, rng.betavariate(2.5, 5)), 4)}
                write("candidate", decision="kept", most_similar=similar, **fields)
                pending.append({**fields, "most_similar": similar})
                kept_ids.append(fields["id"])
        while len(pending) >= LABEL_BATCH and counts["rows"] < rows:
            labels_sent += 1
            label(pending[:LABEL_BATCH], labels_sent)
            del pending[:LABEL_BATCH]
        clock += rng.uniform(0.5, 1.5)  # the next reply a little later
    journal.close()
    instructions.close()
    run = {
        "status": "running", "stop_reason": None, "target": rows,
        "config": {"teacher_model": "gpt-4o-mini", "base_url": "https://api.openai.com/v1", "seed_set_hash": seed_set_hash(seeds),
                   "num_seed_tasks": len(seeds), "similarity_threshold": 0.7, "similarity_tokenizer": "rouge"},
        "counters": {"kept": counts["rows"], "prompt_tokens": tokens[0], "completion_tokens": tokens[1], "cost_usd": round(cost, 6)},
        "teacher": {"price_known": True}, "decontamination": None,
        "files": {"instructions": "instructions.jsonl", "journal": "journal.jsonl"},
    }  # fmt: skip
    (folder / "run.json").write_text(json.dumps(run, indent=2), encoding="utf-8")
    return {**counts, "pending": len(pending) + len(waiting), "requests": request + labels_sent}


# -- the measurements (each run in its own process: python run_scale.py --measure STEP FOLDER) -------


def _index(rows: list[dict[str, Any]], pending: list[dict[str, Any]]) -> Any:
    """The similarity pool a resumed session builds: the real CandidateDecisions over seeds + rows."""
    from bioinstruct.generation.decisions import CandidateDecisions
    from bioinstruct.generation.seeds import load_seed_tasks

    return CandidateDecisions(0.7, "rouge", load_seed_tasks(), [*rows, *pending]).index


def _first_request(folder: Path) -> dict[str, Any]:
    """The real resume: ``BioInstructBuilder.build()`` on the run until its first request reaches a
    local server (which answers 401, so the run stops there, its files intact but for one event)."""
    import shutil as _shutil

    from bioinstruct.generation.builder import BioInstructBuilder
    from bioinstruct.llm.client import TeacherAuthError
    from bioinstruct.testing.openai_server import LocalOpenAIServer, Reply

    copy = folder.parent / f"{folder.name}-resume"
    _shutil.copytree(folder, copy, dirs_exist_ok=True)  # the run is not changed for the other steps
    arrived: list[float] = []

    def refuse(request: dict[str, Any]) -> Reply:
        arrived.append(time.perf_counter())
        return Reply("no", status=401)

    try:
        with LocalOpenAIServer(refuse) as server:
            config = json.loads((copy / "run.json").read_text())["config"]
            builder = BioInstructBuilder(copy, teacher_model=config["teacher_model"], base_url=server.base_url,
                                         api_key="local", progress=False, max_retries=0)  # fmt: skip
            target = json.loads((copy / "run.json").read_text())["counters"]["kept"] + 1_000
            start = time.perf_counter()
            with contextlib.suppress(TeacherAuthError):  # the 401: the run stops at its first request
                builder.build(target)
        return {"first_request_s": arrived[0] - start if arrived else None}
    finally:
        _shutil.rmtree(copy, ignore_errors=True)


def measure(step: str, folder: Path, screenshot: Path | None = None) -> dict[str, Any]:
    if step in ("recover", "resume"):
        from bioinstruct.generation.journal import recover

        start = time.perf_counter()
        state = recover(folder)
        result = {
            "recover_s": time.perf_counter() - start,
            "rows": len(state.rows),
            "pending": len(state.pending),
        }
        if step == "resume":
            start = time.perf_counter()
            _index(state.rows, state.pending)
            result["index_s"] = time.perf_counter() - start
            result["resume_s"] = result["recover_s"] + result["index_s"]
    elif step == "first_request":
        result = _first_request(folder)
    elif step == "index":
        from bioinstruct.jsonio import iter_jsonl

        rows = list(iter_jsonl(folder / "instructions.jsonl"))
        start = time.perf_counter()
        index = _index(rows, [])
        result = {"index_s": time.perf_counter() - start, "items": len(index)}
    elif step == "view":
        from bioinstruct.viewer import write_view

        start = time.perf_counter()
        path = write_view(folder, folder / "view.html")
        result = {"view_s": time.perf_counter() - start, "html_mb": path.stat().st_size / 1e6}
    elif step == "browser":
        result = _browser(folder / "view.html", screenshot)
    else:
        raise SystemExit(f"unknown step {step!r}")
    return {**result, "peak_rss_mb": _peak_rss_mb()}


def _browser(page: Path, screenshot: Path | None = None) -> dict[str, Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="run-scale-chromium-")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,1800",
                 f"--user-data-dir={profile}"):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        driver.set_page_load_timeout(120)
        start = time.perf_counter()
        driver.get(page.as_uri())
        load_s = time.perf_counter() - start
        timings = driver.execute_script(
            "var p = {}; performance.getEntriesByType('paint').forEach(function (e) { p[e.name] = e.startTime; });"
            "var m = performance.getEntriesByName('first-rows'), all = performance.getEntriesByName('all-rows');"
            "return {fcp: p['first-contentful-paint'], fp: p['first-paint'], rows_ms: m.length ? m[0].startTime : null,"
            " all_ms: all.length ? all[0].startTime : null,"
            " shown: document.querySelectorAll('#rows > li.item').length, ready: document.body.getAttribute('data-ready'),"
            " load_ms: performance.getEntriesByType('navigation')[0].loadEventEnd,"
            " heap_mb: performance.memory ? performance.memory.usedJSHeapSize / 1e6 : null};"
        )
        painted = driver.execute_async_script(
            "var done = arguments[arguments.length - 1], seen = {};"
            "new PerformanceObserver(function (list) { list.getEntries().forEach(function (e) {"
            "  var key = e.entryType === 'element' ? e.identifier : e.entryType, at = e.renderTime || e.startTime;"
            "  seen[key] = Math.min(seen[key] || Infinity, at); }); })"
            ".observe({type: 'element', buffered: true});"
            "new PerformanceObserver(function (list) { list.getEntries().forEach(function (e) {"
            "  seen.lcp = e.renderTime || e.startTime; }); }).observe({type: 'largest-contentful-paint', buffered: true});"
            "setTimeout(function () { done(seen); }, 300);"
        )
        if screenshot is not None:  # the page as it opens (README's picture)
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(screenshot))
        search_ms = driver.execute_script(
            "var s = document.getElementById('search'); s.value = 'warfarin pregnant';"
            "var t = performance.now(); document.getElementById('controls').dispatchEvent(new Event('submit', {cancelable: true}));"
            "return performance.now() - t;"
        )
        errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    return {"first_paint_ms": timings["fcp"], "first_rows_ms": painted.get("first-row"), "rows_in_dom_ms": timings["rows_ms"],
            "all_rows_ms": timings["all_ms"], "lcp_ms": painted.get("lcp"), "load_ms": timings["load_ms"],
            "rows_shown": timings["shown"], "ready": timings["ready"], "search_ms": search_ms, "heap_mb": timings["heap_mb"],
            "get_s": load_s, "js_errors": errors}  # fmt: skip


def _run_step(step: str, folder: Path, screenshot: Path | None = None) -> dict[str, Any]:
    extra = ["--screenshot", str(screenshot.absolute())] if screenshot else []
    done = subprocess.run(
        [sys.executable, __file__, "--measure", step, str(folder), *extra],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"step {step} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} ms"


def _verdict(value: float | None, goal: float) -> str:
    return "n/a" if value is None else "PASS" if value <= goal else "FAIL"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rows", type=int, default=100_000, help="Accepted rows in the synthetic run (default 100000)."
    )
    parser.add_argument("--folder", type=Path, help="Where to write the run (default: a temporary folder).")
    parser.add_argument(
        "--keep", action="store_true", help="Keep the run folder (and its view.html) afterwards."
    )
    parser.add_argument("--seed", type=int, default=0, help="Random seed of the synthetic run.")
    parser.add_argument("--screenshot", type=Path, help="Save the page as it opens to this PNG file.")
    parser.add_argument("--measure", nargs=2, metavar=("STEP", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure[0], Path(args.measure[1]), args.screenshot)))
        return 0

    scratch = None if args.folder else Path(tempfile.mkdtemp(prefix="run-scale-"))
    folder = args.folder or scratch / "synthetic-run"  # the name the page's title shows
    try:
        start = time.perf_counter()
        made = synthesize(folder, args.rows, args.seed)
        sizes = {
            name: (folder / name).stat().st_size / 1e6 for name in ("instructions.jsonl", "journal.jsonl")
        }
        print(f"run: {made['rows']:,} rows, {made['pending']:,} pending, {made['candidates']:,} candidates, "
              f"{made['requests']:,} requests, {made['events']:,} journal events; instructions.jsonl "
              f"{sizes['instructions.jsonl']:.1f} MB, journal.jsonl {sizes['journal.jsonl']:.1f} MB "
              f"(written in {time.perf_counter() - start:.1f} s)")  # fmt: skip
        steps = {
            step: _run_step(step, folder) for step in ("recover", "index", "resume", "first_request", "view")
        }
        browser_ok = CHROMIUM.exists() and CHROMEDRIVER.exists()
        steps["browser"] = _run_step("browser", folder, args.screenshot) if browser_ok else {}
        r, v, b, f = steps["resume"], steps["view"], steps["browser"], steps["first_request"]
        table = [
            ("recover(folder)", f"{steps['recover']['recover_s']:.2f} s", f"{steps['recover']['peak_rss_mb']:,.0f} MB", ""),
            ("SimilarityIndex fill", f"{steps['index']['index_s']:.2f} s", f"{steps['index']['peak_rss_mb']:,.0f} MB", "(rows read first, untimed)"),
            ("resume = both", f"{r['resume_s']:.2f} s", f"{r['peak_rss_mb']:,.0f} MB",
             f"goal <= {GOALS['resume_s']:g} s: {_verdict(r['resume_s'], GOALS['resume_s'])}; "
             f"<= 2 GB: {_verdict(r['peak_rss_mb'], GOALS['resume_rss_mb'])}"),
            ("build() to 1st request", f"{f['first_request_s']:.2f} s", f"{f['peak_rss_mb']:,.0f} MB",
             f"the builder's own resume (recover, pool, run.json); goal <= {GOALS['resume_s']:g} s: "
             f"{_verdict(f['first_request_s'], GOALS['resume_s'])}"),
            ("write_view", f"{v['view_s']:.2f} s", f"{v['peak_rss_mb']:,.0f} MB", f"HTML {v['html_mb']:.1f} MB"),
        ]  # fmt: skip
        if b:
            table += [
                ("first contentful paint", f"{_ms(b['first_paint_ms'])}", "", f"goal <= 2 s: {_verdict(b['first_paint_ms'], GOALS['first_paint_ms'])}"),
                ("first page of rows", f"{_ms(b['first_rows_ms'])}", "",
                 f"painted (Element Timing; in the DOM at {_ms(b['rows_in_dom_ms'])}); goal <= 2 s: "
                 f"{_verdict(b['first_rows_ms'], GOALS['first_rows_ms'])}"),
                ("all rows searchable", f"{_ms(b['all_rows_ms'])}", f"JS heap {b['heap_mb'] or 0:,.0f} MB",
                 f"every item parsed, filters on; {b['rows_shown']} rows shown"),
                ("load event", f"{_ms(b['load_ms'])}", "", f"largest contentful paint {_ms(b['lcp_ms'])}"),
                ("search over all rows", f"{_ms(b['search_ms'])}", "", f"JS errors: {len(b['js_errors'])}"),
            ]  # fmt: skip
        else:
            table.append(("browser", "skipped", "", f"needs {CHROMIUM} and {CHROMEDRIVER}"))
        print(f"\n{'step':<24} {'time':>10} {'memory':>16}  notes")
        for name, took, memory, note in table:
            print(f"{name:<24} {took:>10} {memory:>16}  {note}")
        verdicts = [r["resume_s"] <= GOALS["resume_s"], r["peak_rss_mb"] <= GOALS["resume_rss_mb"],
                    f["first_request_s"] <= GOALS["resume_s"], f["peak_rss_mb"] <= GOALS["resume_rss_mb"]]  # fmt: skip
        if b:
            verdicts += [
                _verdict(b["first_paint_ms"], GOALS["first_paint_ms"]) == "PASS",
                _verdict(b["first_rows_ms"], GOALS["first_rows_ms"]) == "PASS",
                not b["js_errors"],
            ]
        print(f"\noverall: {'PASS' if all(verdicts) else 'FAIL'} at {made['rows']:,} rows")
        if args.keep:
            print(f"kept: {folder}")
        return 0 if all(verdicts) else 1
    finally:
        if not args.keep:
            shutil.rmtree(scratch or folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
