"""`bioinstruct view`: the data it gathers from a run folder, the page it writes, and that page in a
real headless Chromium (search, filters, pages, the neighbour text of similarity rejections)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bioinstruct import cli
from bioinstruct.generation.seeds import load_seed_tasks
from bioinstruct.viewer import gather_run, render_view
from bioinstruct.viewer.masking import mask_identifiers
from bioinstruct.viewer.page import FIELDS, PAGE_SIZE, first_page, script_json
from tests.viewer.conftest import save_screenshot
from tests.viewer.run_fixture import FILLER_WORD, SECRET, XSS, filler, write_run


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return write_run(tmp_path / "run")


def _by_id(view) -> dict[str, dict]:
    return {item["id"]: item for item in view.items}


def test_gathers_kept_pending_rejected_and_surplus_in_page_order(run_dir):
    view = gather_run(run_dir)
    statuses = [item["status"] for item in view.items]
    assert statuses == ["kept"] * 2 + ["pending"] + ["rejected"] * 7 + ["surplus"]
    rejected = [item["rule"] for item in view.items if item["status"] == "rejected"]
    assert rejected == sorted(rejected)  # grouped by rule
    assert view.rules == {"answer_review": 1, "benchmark_overlap": 1, "blacklist": 1, "patient_identifiers": 1,
                          "similarity": 3}  # fmt: skip
    header = view.header
    assert (header["status"], header["stop_reason"], header["target"]) == ("running", None, 10)
    assert (header["kept"], header["pending"], header["rejected"], header["surplus"]) == (2, 1, 7, 1)
    assert header["candidates"] == 11 and header["requests"] == {"generate": 2, "label": 1}
    assert header["cost_usd"] == pytest.approx(0.0015) and header["prompt_tokens"] == 2400
    assert view.series["requests"] == [1, 2, 3] and view.series["seconds"][0] == 2.5
    assert view.notes == []  # run.json present, bundled seeds match the recorded seed_set_hash


def test_similarity_rejections_resolve_their_neighbour_among_seeds_rows_and_candidates(run_dir):
    view = gather_run(run_dir)
    items = _by_id(view)
    seed_text = load_seed_tasks()[0]["instruction"]
    to_seed = view.neighbour(items["gen-000001-02"])
    assert to_seed == {"id": "seed_001", "score": 0.95, "where": "seed", "instruction": seed_text}
    to_row = view.neighbour(items["gen-000001-03"])
    assert (to_row["where"], to_row["instruction"]) == ("kept", items["gen-000001-01"]["instruction"])
    to_pending = view.neighbour(items["gen-000002-02"])
    assert (to_pending["where"], to_pending["score"]) == ("pending", 0.9231)
    assert to_pending["instruction"].startswith("List the red-flag symptoms of cauda equina syndrome")
    assert view.neighbour(items["gen-000001-04"]) is None  # blacklist: no neighbour


def test_dropped_review_identifiers_and_overlap_are_carried(run_dir):
    items = _by_id(gather_run(run_dir))
    dropped = items["gen-000001-06"]
    assert (dropped["status"], dropped["rule"]) == ("rejected", "answer_review")
    assert dropped["reason"].startswith("scored under 3") and dropped["review"]["passed"] is False
    kept = items["gen-000001-01"]
    assert kept["review"]["correctness"] == 5 and kept["identifiers"][0]["text"] == "12345678"
    flagged = items["gen-000001-07"]  # rejected by the screen: shown masked, never with the identifiers
    assert flagged["rule"] == "patient_identifiers" and [x["kind"] for x in flagged["identifiers"]] == [
        "NAME",
        "DATE",
    ]
    assert flagged["input"] == "[NAME], born [DATE], phone 555-0134."
    assert [(x["start"], x["end"], x["text"]) for x in flagged["identifiers"]] == [
        (0, 6, "[NAME]"),
        (13, 19, "[DATE]"),
    ]
    pending = items["gen-000002-01"]  # its review came in a `reviewed` event, before any row
    assert pending["review"]["completeness"] == 4
    assert items["gen-000001-08"]["overlap"][0]["benchmark"] == "pubmedqa"
    assert items["gen-000002-01"]["status"] == "pending" and items["gen-000002-01"]["category"] == ""


def test_page_shows_generated_script_as_text_and_copies_no_secret(run_dir):
    html = render_view(gather_run(run_dir))
    assert "</script><script>alert(1)" not in html and "<script>alert" not in html
    assert html.count("<script") == 3  # two data blocks and the page's own script, nothing from the run
    assert SECRET not in html and "user:" not in html and "api_key" not in html and "hf_token" not in html
    assert "John Smith" not in html and "02/03/1961" not in html  # a rejected candidate's identifiers
    assert "https://api.example.com/v1" in html  # the endpoint without its credentials
    for name in ("run-first", "run-data"):
        block = re.search(rf'<script type="application/json" id="{name}">(.*?)</script>', html, re.DOTALL)
        data = json.loads(block.group(1))
        instructions = [item[data["fields"].index("instruction")] for item in data["items"]]
        assert XSS in instructions
    assert "default-src 'none'" in html and "sha256-" in html  # CSP: no network, only this page's script


def test_the_first_page_comes_with_the_neighbours_it_shows(tmp_path):
    view = gather_run(write_run(tmp_path / "run", fillers=120))
    first = first_page(view)
    assert len(first["items"]) == PAGE_SIZE and first["total"] == len(view.items) == 131
    assert first["counts"] == {"kept": 122, "pending": 1, "rejected": 7, "surplus": 1}
    ref = first["items"][0][FIELDS.index("nn_ref")]  # gen-000001-01's neighbour: seed_003
    assert first["refs"][str(ref)] == ["seed", load_seed_tasks()[2]["instruction"]]
    assert first["refs"][str(first["items"][1][FIELDS.index("nn_ref")])][0] == "kept"


def test_an_identifier_whose_span_moved_is_masked_by_its_text():
    item = {"instruction": "Call Jane Roe.", "input": "", "output": "Jane Roe agreed.",
            "identifiers": [{"kind": "NAME", "field": "output", "start": 40, "end": 48, "text": "Jane Roe"}]}  # fmt: skip
    mask_identifiers(item)
    assert (item["instruction"], item["output"]) == ("Call [NAME].", "[NAME] agreed.")
    assert item["identifiers"] == [{"kind": "NAME", "field": "output", "text": "[NAME]"}]


@pytest.mark.parametrize(
    "text", ["</script><script>x()</script>", "<!-- <script>", "a\u2028b & c > d", "\ud800"]
)
def test_script_json_never_ends_its_element_and_reads_back(text):
    encoded = script_json({"t": text})
    assert "<" not in encoded and ">" not in encoded and "&" not in encoded
    assert json.loads(encoded) == {"t": text}


def test_view_command_writes_the_file_and_prints_one_line(run_dir, tmp_path, capsys):
    assert cli.main(["view", str(run_dir)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    written = run_dir / "view.html"
    assert len(out) == 1 and str(written) in out[0] and "kB" in out[0] and written.is_file()
    elsewhere = tmp_path / "pages" / "run.html"
    assert cli.main(["view", str(run_dir), "--output", str(elsewhere)]) == 0
    assert str(elsewhere) in capsys.readouterr().out and elsewhere.read_bytes().startswith(b"<!DOCTYPE html>")
    assert not list(elsewhere.parent.glob(".*.tmp"))  # written atomically, no temp file left


@pytest.mark.parametrize("kind", ["missing", "empty", "file"])
def test_a_folder_that_is_not_a_run_is_one_line_and_exit_2(kind, tmp_path, capsys):
    target = tmp_path / "not-a-run"
    if kind == "empty":
        target.mkdir()
        (target / "notes.txt").write_text("hello")
    elif kind == "file":
        target.write_text("{}")
    assert cli.main(["view", str(target)]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert (
        len(err) == 1
        and str(target) in err[0]
        and "journal.jsonl" in err[0]
        and "instructions.jsonl" in err[0]
    )
    assert captured.out == "" and not (target / "view.html").exists()


def test_a_run_in_progress_is_read_without_touching_its_files(run_dir):
    """A live builder may be writing the journal's last line: it is skipped, never cut off."""
    with (run_dir / "journal.jsonl").open("a", encoding="utf-8") as handle:
        handle.write('{"event": "candidate", "decision": "kep')
    (run_dir / "run.json").unlink()
    before = {path.name: path.read_bytes() for path in run_dir.iterdir()}
    view = gather_run(run_dir)
    assert {path.name: path.read_bytes() for path in run_dir.iterdir()} == before
    assert view.header["status"] == "unknown" and view.header["pending"] == 1
    assert any("run.json" in note for note in view.notes)


def test_a_seed_file_that_cannot_be_found_is_a_note_and_ids_only(run_dir):
    run = json.loads((run_dir / "run.json").read_text())
    run["config"]["seed_tasks"] = "elsewhere/seeds.jsonl"
    (run_dir / "run.json").write_text(json.dumps(run))
    view = gather_run(run_dir)
    assert view.seeds == [] and "elsewhere/seeds.jsonl not found" in view.notes[0]
    to_seed = view.neighbour(_by_id(view)["gen-000001-02"])
    assert to_seed["id"] == "seed_001" and to_seed["instruction"] is None


def test_a_real_builder_run_is_viewed(tmp_path, openai_server):
    """The folder `BioInstructBuilder` writes (local scripted teacher), not a hand-made one."""
    from bioinstruct.generation.builder import BioInstructBuilder
    from tests.generation.builder_fakes import ScriptedTeacher

    server = openai_server(ScriptedTeacher())
    folder = tmp_path / "built"
    BioInstructBuilder(folder, teacher_model="gpt-4o-mini", base_url=server.base_url, api_key=SECRET,
                       max_concurrency=1, progress=False).build(12)  # fmt: skip
    view = gather_run(folder)
    assert view.header["kept"] == 12 and view.header["status"] == "complete"
    assert all(item["nn_ref"] is not None for item in view.items if item["status"] == "kept")
    assert view.header["cost_usd"] == pytest.approx(
        json.loads((folder / "run.json").read_text())["counters"]["cost_usd"]
    )
    assert SECRET not in render_view(view)


# -- in a real browser ---------------------------------------------------------------------------


def test_the_page_in_headless_chromium(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    folder = write_run(tmp_path / "run", fillers=120)
    assert cli.main(["view", str(folder)]) == 0
    browser.get((folder / "view.html").as_uri())
    wait = WebDriverWait(browser, 20)
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")

    def shown():
        return browser.find_elements(By.CSS_SELECTOR, "#rows > li.item")

    def count_text():
        return browser.find_element(By.ID, "count").text

    assert len(shown()) == 50 and "of 131 matching" in count_text() and "pending label: 1" in count_text()
    assert browser.find_element(By.CSS_SELECTOR, "#pager-top .page-of").text == "page 1 of 3"
    assert browser.find_element(By.ID, "run-status").text == "running"
    xss = browser.find_element(By.CSS_SELECTOR, 'li[data-id="gen-000001-05"] .text-instruction')
    assert xss.text == XSS  # shown as text; had it run, the alert would break every call below
    save_screenshot(browser, tmp_path, "run_viewer.png")

    browser.find_element(By.CSS_SELECTOR, "#pager-top .page-next").click()
    assert browser.find_element(By.CSS_SELECTOR, "#pager-top .page-of").text == "page 2 of 3"
    assert shown()[0].get_attribute("data-id") == "gen-000003-049"

    browser.find_element(By.ID, "search").send_keys(FILLER_WORD)
    wait.until(lambda d: "of 1 matching" in count_text())
    assert [item.get_attribute("data-id") for item in shown()] == ["gen-000003-008"]
    assert shown()[0].find_element(By.CSS_SELECTOR, ".text-instruction").text == filler(7)[0]

    browser.find_element(By.ID, "reset").click()
    wait.until(lambda d: "of 131 matching" in count_text())
    Select(browser.find_element(By.ID, "rule")).select_by_value("similarity")
    wait.until(lambda d: "of 3 matching" in count_text())
    items = shown()
    assert [item.get_attribute("data-id") for item in items] == [
        "gen-000001-02",
        "gen-000001-03",
        "gen-000002-02",
    ]
    assert browser.find_element(By.CSS_SELECTOR, "#rows > li.group").text == "Rejected by similarity (3)"
    neighbours = [item.find_element(By.CSS_SELECTOR, ".neighbour.close").text for item in items]
    assert "Too close to seed seed_001 (ROUGE-L 0.950)" in neighbours[0]
    assert load_seed_tasks()[0]["instruction"] in neighbours[0]
    assert "kept item gen-000001-01" in neighbours[1] and "general practitioner" in neighbours[1]
    assert "pending label item gen-000002-01" in neighbours[2] and "cauda equina syndrome" in neighbours[2]
    assert "ROUGE-L 0.950 >= 0.7 with seed_001" in items[0].find_element(By.CSS_SELECTOR, ".reason").text
    rule_labels = [o.text for o in Select(browser.find_element(By.ID, "rule")).options]
    assert "similarity (3)" in rule_labels and "blacklist (1)" in rule_labels
    save_screenshot(browser, tmp_path, "run_viewer_similarity.png")

    Select(browser.find_element(By.ID, "rule")).select_by_value("")
    Select(browser.find_element(By.ID, "status")).select_by_value("rejected")
    wait.until(lambda d: "of 7 matching" in count_text())
    dropped = browser.find_element(By.CSS_SELECTOR, 'li[data-id="gen-000001-06"]')
    assert "answer_review" in dropped.text and "correctness 1/5" in dropped.text and "failed" in dropped.text
    flagged = browser.find_element(By.CSS_SELECTOR, 'li[data-id="gen-000001-07"] .text-input mark.pii')
    assert flagged.text == "[NAME]" and "John Smith" not in browser.page_source

    browser.find_element(By.CSS_SELECTOR, '#rules-box button[data-rule="blacklist"]').click()
    wait.until(lambda d: "of 1 matching" in count_text())
    assert shown()[0].get_attribute("data-id") == "gen-000001-04"

    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []  # no script error, and no Content-Security-Policy refusal either

    # What is drawn before the browser has read the data of every item: the page without that block.
    html = (folder / "view.html").read_text(encoding="utf-8")
    early = folder / "early.html"
    early.write_text(
        re.sub(r'<script type="application/json" id="run-data">.*?</script>', "", html, flags=re.DOTALL)
    )
    browser.get(early.as_uri())
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "error")
    assert len(shown()) == 50 and browser.find_element(By.ID, "search").get_attribute("disabled") == "true"
    first_nn = shown()[0].find_element(By.CSS_SELECTOR, ".neighbour").text
    assert "seed seed_003 (ROUGE-L 0.121)" in first_nn and load_seed_tasks()[2]["instruction"] in first_nn
