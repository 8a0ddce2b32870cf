"""`bioinstruct view` on an evaluation folder: what it gathers (from a folder the real Evaluator wrote
for a tiny model and a LoRA adapter, and from hand-made results saved by the real writer), the
changed-by-the-adapter and unparseable logic, escaping, and the page in a real headless Chromium."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from bioinstruct import cli
from bioinstruct.evaluation.report import BenchmarkResult, EvalResults
from bioinstruct.viewer.eval_gather import gather_eval
from bioinstruct.viewer.eval_items import (
    BETTER,
    CHANGED,
    UNPARSEABLE,
    WORSE,
    WRONG_ALL,
    cell_of,
    item_flags,
    unparseable_reason,
)
from bioinstruct.viewer.eval_page import FIELDS, PAGE_SIZE, first_page, render_eval_view
from tests.evaluation.e1_eval_helpers import make_lora_adapter, qa_data_files
from tests.viewer.conftest import save_screenshot
from tests.viewer.eval_fixture import ADAPTER, SEARCH_WORD, SECRET, XSS, write_eval


@pytest.fixture(scope="module")
def evaluated(
    tiny_model_dir: Path, fixtures_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, EvalResults]:
    """The folder `bioinstruct evaluate` leaves for the tiny model and an adapter: MedQA generative,
    MedMCQA log-likelihood, MeQSum free text."""
    from bioinstruct.evaluation.evaluator import Evaluator

    root = tmp_path_factory.mktemp("eval-view")
    adapter = make_lora_adapter(tiny_model_dir, root / "bioinstruct-lora")
    files = {**qa_data_files(fixtures_dir), "meqsum": str(fixtures_dir / "meqsum.jsonl")}
    files = {name: files[name] for name in ("medqa", "medmcqa", "meqsum")}
    evaluator = Evaluator(str(tiny_model_dir), adapters=[str(adapter)], progress=False,
                          backend_options={"device": "cpu", "batch_size": 8})  # fmt: skip
    results = evaluator.run(["medqa"], limit=4, data_files={"medqa": files["medqa"]}, protocol="generate",
                            template="plain") + evaluator.run(["medmcqa", "meqsum"], limit=4, num_fewshot=0,
                            data_files={k: files[k] for k in ("medmcqa", "meqsum")}, template="plain")  # fmt: skip
    return results.save(root / "eval"), results


def test_a_folder_the_evaluator_wrote_is_lined_up_item_by_item(evaluated):
    folder, results = evaluated
    view = gather_eval(folder)
    base, tuned = view.variants
    assert (
        (base["label"], tuned["label"]) == tuple(results.variants)
        and tuned["base"] == 0
        and base["base"] is None
    )
    assert [task["benchmark"] for task in view.tasks] == ["medqa", "medmcqa", "meqsum"]
    assert [task["protocol"] for task in view.tasks] == ["generative", "loglikelihood", "generative"]
    assert view.header["adapters"] == {"bioinstruct-lora": str(folder.parent / "bioinstruct-lora")}
    for t, task in enumerate(view.tasks):
        name = task["benchmark"]
        items = [item for item in view.items if item["task"] == t]
        plain, adapted = results.get(name), results.get(name, adapter="bioinstruct-lora")
        assert [item["id"] for item in items] == [s["id"] for s in plain.samples] and task["items"] == 4
        assert task["results"][0]["score"] == plain.score and task["results"][1]["ci"] == list(adapted.ci)
        for item, a, b in zip(items, plain.samples, adapted.samples, strict=True):
            cells = item["cells"]
            assert [c["prediction"] for c in cells] == [a["prediction"], b["prediction"]]
            assert cells[0]["score"] == (float(a["correct"]) if "correct" in a else a["score"])
            changed = a["prediction"] != b["prediction"] or a.get("correct", a.get("score")) != b.get(
                "correct", b.get("score")
            )
            assert bool(item["flags"] & CHANGED) == changed
            assert bool(item["flags"] & UNPARSEABLE) == ("unparseable" in a or "unparseable" in b)
        for v, result in enumerate((plain, adapted)):
            bad = sum(1 for item in items if item["cells"][v]["unparseable"])
            assert bad == (result.unparseable or 0) == (task["results"][v]["unparseable"] or 0)
        if name == "medqa":  # generative: the raw reply is kept with the item for the page
            assert all("output" in item["cells"][0]["extra"] for item in items)
        if name == "medmcqa":
            assert task["chance"] == pytest.approx(0.25)
            assert len(items[0]["cells"][1]["extra"]["loglikelihoods"]) == 4
    assert view.notes == []


def test_the_view_command_tells_an_evaluation_folder_and_writes_its_page(evaluated, tmp_path, capsys):
    folder, _ = evaluated
    target = tmp_path / "page.html"
    assert cli.main(["view", str(folder), "--output", str(target)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and str(target) in out[0] and "evaluation viewer" in out[0]
    html = target.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "bioinstruct evaluation:" in html
    data = json.loads(
        re.search(r'<script type="application/json" id="eval-data">(.*?)</script>', html, re.S).group(1)
    )
    assert len(data["items"]) == 12 and data["fields"] == list(FIELDS)
    assert not list(target.parent.glob(".*.tmp"))


def _cells(*answers: tuple) -> list[dict | None]:
    return [
        None if a is None else cell_of([{"prediction": a[0], "correct": a[1]}], "multiple_choice")
        for a in answers
    ]


def test_changed_better_worse_and_wrong_in_all():
    variants = [{"base": None}, {"base": 0}, {"base": 0}]
    assert item_flags(_cells(("A", True), ("A", True), ("A", True)), variants) == 0
    assert item_flags(_cells(("A", False), ("B", True), ("A", False)), variants) == CHANGED | BETTER
    assert item_flags(_cells(("A", True), ("A", True), ("C", False)), variants) == CHANGED | WORSE
    assert item_flags(_cells(("A", False), ("B", False), ("C", False)), variants) == CHANGED | WRONG_ALL
    assert item_flags(_cells(("A", False), None, ("A", False)), variants) == WRONG_ALL  # one adapter lacks it
    assert item_flags(_cells(None, ("B", True), ("C", False)), variants) == 0  # no base: nothing to compare
    # free text: the same words with another score, or another text with the same score, is a change
    text = [cell_of([{"prediction": p, "score": s}], "generation") for p, s in (("x", 0.5), ("x", 0.7))]
    assert item_flags(text, variants[:2]) == CHANGED | BETTER
    text = [cell_of([{"prediction": p, "score": 0.0}], "generation") for p in ("x", "y")]
    assert item_flags(text, variants[:2]) == CHANGED | WRONG_ALL
    unscored = [cell_of([{"prediction": "x"}], "generation")] * 2  # no per-item score (corpus F1 sets)
    assert item_flags(unscored, variants[:2]) == 0


def test_what_counts_as_unparseable():
    assert (
        unparseable_reason({"prediction": None, "unparseable": "names no choice"}, "multiple_choice")
        == "names no choice"
    )
    assert unparseable_reason({"prediction": None}, "multiple_choice") == "no choice parsed"
    assert unparseable_reason({"prediction": "A", "unparseable": True}, "multiple_choice") == "unparseable"
    assert unparseable_reason({"prediction": None, "unparseable": False}, "multiple_choice") is None
    assert unparseable_reason({"prediction": "B"}, "multiple_choice") is None
    assert unparseable_reason({"prediction": None}, "generation") is None  # free text is never parsed
    # several samples of one item (self-consistency): the first shown, the mean score, any unparseable one
    cell = cell_of([{"prediction": "A", "correct": True}, {"prediction": None, "correct": False,
                    "unparseable": "no final answer"}], "multiple_choice")  # fmt: skip
    assert (cell["prediction"], cell["score"], cell["unparseable"]) == ("A", 0.5, "no final answer")
    assert cell["more"][0]["prediction"] is None and cell["answers"] == ("A", None)


def test_one_benchmark_under_two_protocols_is_two_tasks_each_with_its_own_rows(tmp_path):
    """loglik and chain-of-thought on the same MedQA items: each result gets its own sample rows, also
    from a file whose rows name no protocol (the order save writes them in)."""

    def result(word: str, name: str, adapter: str | None, predictions: list) -> BenchmarkResult:
        samples = [{"id": str(i), "prompt": f"Q{i}?", "prediction": p, "reference": "A", "correct": p == "A",
                    **({"output": f"Reasoning {i}. Answer: {p}", "extracted": p} if name == "cot" else {}),
                    **({"unparseable": 'no final "Answer: X" statement'} if p is None else {})}
                   for i, p in enumerate(predictions)]  # fmt: skip
        return BenchmarkResult("medqa", "m", adapter, {"accuracy": 0.5}, len(samples), "accuracy",
                               protocol={"task": "multiple_choice", "protocol": word, "name": name},
                               samples=samples)  # fmt: skip

    results = EvalResults([result("loglikelihood", "loglik", None, ["A", "B"]),
                           result("chain-of-thought", "cot", None, ["A", None]),
                           result("loglikelihood", "loglik", ADAPTER, ["A", "A"]),
                           result("chain-of-thought", "cot", ADAPTER, ["B", "A"])])  # fmt: skip
    folder = results.save(tmp_path / "eval")
    rows = (folder / "samples" / "medqa.jsonl").read_text().splitlines()
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "samples").mkdir()
    (tmp_path / "old" / "results.json").write_text((folder / "results.json").read_text())
    stripped = [{k: v for k, v in json.loads(row).items() if k != "protocol"} for row in rows]
    (tmp_path / "old" / "samples" / "medqa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in stripped))
    for where in (folder, tmp_path / "old"):
        view = gather_eval(where)
        assert [task["label"] for task in view.tasks] == ["medqa (loglikelihood)", "medqa (chain-of-thought)"]
        got = [[c["prediction"] for c in item["cells"]] for item in view.items]
        assert got == [["A", "A"], ["B", "A"], ["A", "B"], [None, "A"]]
        assert [item["flags"] for item in view.items] == [
            0,
            CHANGED | BETTER,
            CHANGED | WORSE,
            CHANGED | BETTER | UNPARSEABLE,
        ]
        assert (
            view.items[1]["cells"][0]["extra"] is None
            and view.items[2]["cells"][0]["extra"]["extracted"] == "A"
        )
    assert any("order they were written" in note for note in gather_eval(tmp_path / "old").notes)


def test_the_page_shows_predictions_as_text_and_copies_no_secret(tmp_path):
    folder = write_eval(tmp_path / "eval")
    view = gather_eval(folder)
    html = render_eval_view(view)
    assert "<script>alert" not in html and html.count("<script") == 3  # two data blocks and the page's script
    assert SECRET not in html and "user:" not in html and "api_key" not in html
    assert "https://api.example.com/v1" in html  # the endpoint without its credentials
    for name in ("eval-first", "eval-data"):
        block = re.search(rf'<script type="application/json" id="{name}">(.*?)</script>', html, re.DOTALL)
        data = json.loads(block.group(1))
        outputs = [cell[3].get("output") for item in data["items"] for cell in item[4] if cell and cell[3]]
        assert XSS in outputs
    assert "default-src 'none'" in html and "sha256-" in html
    assert 'class="changed-link" data-task="0"' in html and "chance 25.0" in html  # score table and chart
    first = first_page(view)
    assert first["total"] == len(view.items) == 13 and first["counts"]["unparseable"] == 2


@pytest.mark.parametrize("kind", ["missing", "empty", "file", "broken"])
def test_a_folder_that_is_neither_kind_is_one_line_naming_both(kind, tmp_path, capsys):
    target = tmp_path / "not-a-run"
    if kind == "file":
        target.write_text("{}")
    elif kind != "missing":
        target.mkdir()
        (target / ("results.json" if kind == "broken" else "notes.txt")).write_text("{not json")
    assert cli.main(["view", str(target)]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and str(target) in err[0] and captured.out == ""
    if kind == "broken":
        assert "results.json" in err[0] and "not readable as JSON" in err[0]
    else:
        assert all(name in err[0] for name in ("journal.jsonl", "instructions.jsonl", "results.json"))
    assert not (target / "view.html").exists()


def test_ten_thousand_items_are_gathered_and_paged(tmp_path):
    folder = write_eval(tmp_path / "eval", fillers=10_000)
    started = time.perf_counter()
    view = gather_eval(folder)
    html = render_eval_view(view)
    assert time.perf_counter() - started < 30
    assert len(view.items) == 10_013 and len(first_page(view)["items"]) == PAGE_SIZE
    assert len(html) < 40_000_000


# -- in a real browser ---------------------------------------------------------------------------


def test_the_evaluation_page_in_headless_chromium(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    folder = write_eval(tmp_path / "eval", fillers=60)
    view = gather_eval(folder)
    changed = sum(1 for item in view.items if item["flags"] & CHANGED)
    assert cli.main(["view", str(folder)]) == 0
    browser.get((folder / "view.html").as_uri())
    wait = WebDriverWait(browser, 20)
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")

    def shown():
        return browser.find_elements(By.CSS_SELECTOR, "#rows > li.item")

    def count_text():
        return browser.find_element(By.ID, "count").text

    def ids():
        return [item.get_attribute("data-id") for item in shown()]

    assert len(shown()) == 50 and "of 73 matching" in count_text()
    assert f"changed by the adapter: {changed}" in count_text()
    assert browser.find_element(By.CSS_SELECTOR, "#pager-top .page-of").text == "page 1 of 2"
    table = browser.find_element(By.CSS_SELECTOR, "table.scores").text
    assert "medqa" in table and "pubmedqa" in table and "rougeL" in table and "bioinstruct-lora" in table
    first = shown()[0]  # q001: the base answered A (wrong), the adapter B (right), side by side
    cells = first.find_elements(By.CSS_SELECTOR, ".cell")
    assert [c.get_attribute("data-variant") for c in cells] == [v["label"] for v in view.variants]
    assert [c.find_element(By.CSS_SELECTOR, ".prediction").text for c in cells] == ["A", "B"]
    assert (
        "wrong" in cells[0].text
        and "correct" in cells[1].text
        and "changed" in cells[1].get_attribute("class")
    )
    assert first.find_element(By.CSS_SELECTOR, ".text-reference").text == "B"
    xss = browser.find_element(By.CSS_SELECTOR, 'li[data-id="q004"] .cell.changed .text-output')
    assert xss.text == XSS  # shown as text; had it run, the alert would break every call below
    browser.find_element(By.CSS_SELECTOR, 'li[data-id="q003"] details.prompt > summary').click()
    assert "warfarin" in browser.find_element(By.CSS_SELECTOR, 'li[data-id="q003"] .prompt-text').text
    save_screenshot(browser, tmp_path, "eval_viewer.png")

    Select(browser.find_element(By.ID, "effect")).select_by_value("changed")
    wait.until(lambda d: f"of {changed} matching" in count_text())
    assert all(item.find_elements(By.CSS_SELECTOR, ".badge.flag-changed") for item in shown())
    expected = [item["id"] for item in view.items if item["flags"] & CHANGED]
    assert ids() == expected[:50] and expected[:3] == [
        "q001",
        "q003",
        "q004",
    ]  # q002, q005, q006: same answers
    task_labels = [o.text for o in Select(browser.find_element(By.ID, "task")).options]
    assert any(label.startswith("meqsum (") for label in task_labels)
    Select(browser.find_element(By.ID, "task")).select_by_value("2")  # meqsum
    wait.until(lambda d: set(ids()) <= {"9000.txt", "9001.txt", "9002.txt"} and ids())
    assert ids() == ["9000.txt", "9001.txt"]  # 9002: both wrote the same summary
    save_screenshot(browser, tmp_path, "eval_viewer_changed.png")

    browser.find_element(By.ID, "reset").click()
    wait.until(lambda d: "of 73 matching" in count_text())
    browser.find_element(By.ID, "search").send_keys(SEARCH_WORD)
    wait.until(lambda d: "of 1 matching" in count_text())
    assert ids() == ["q001"]
    browser.find_element(By.ID, "reset").click()
    browser.find_element(By.ID, "unparseable").click()
    wait.until(lambda d: "of 2 matching" in count_text())
    assert ids() == ["q003", "q004"]
    assert "names no choice" in shown()[0].find_element(By.CSS_SELECTOR, ".unparseable").text
    browser.find_element(By.ID, "unparseable").click()
    browser.find_element(By.ID, "wrong_all").click()
    wait.until(lambda d: "of 73 matching" not in count_text())
    assert all(item.find_elements(By.CSS_SELECTOR, ".badge.flag-wrong_all") for item in shown())
    browser.find_element(By.ID, "reset").click()
    browser.find_element(
        By.CSS_SELECTOR, 'button.changed-link[data-task="1"]'
    ).click()  # pubmedqa's changed count
    wait.until(lambda d: ids() and all(i.startswith("p") for i in ids()))
    assert (
        Select(browser.find_element(By.ID, "effect")).first_selected_option.get_attribute("value")
        == "changed"
    )

    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []  # no script error, and no Content-Security-Policy refusal either

    # What is drawn before the browser has read the data of every item: the page without that block.
    html = (folder / "view.html").read_text(encoding="utf-8")
    early = folder / "early.html"
    early.write_text(
        re.sub(r'<script type="application/json" id="eval-data">.*?</script>', "", html, flags=re.S)
    )
    browser.get(early.as_uri())
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "error")
    assert len(shown()) == 50 and browser.find_element(By.ID, "search").get_attribute("disabled") == "true"
    assert ids()[0] == "q001"


def test_a_non_finite_number_in_a_sample_does_not_break_the_page():
    """A -inf log-likelihood (read back from the samples file as a float) is not JSON; it is written as its name."""
    from bioinstruct.viewer.document import script_json

    assert json.loads(script_json({"loglikelihoods": [-1.5, float("-inf")], "x": float("nan")})) == {
        "loglikelihoods": [-1.5, "-inf"],
        "x": "nan",
    }
