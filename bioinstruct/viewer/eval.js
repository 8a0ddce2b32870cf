/* bioinstruct evaluation viewer: each item's prompt, reference and every variant's prediction and
 * score side by side, with search, filters (benchmark, what the adapter changed, unparseable, wrong
 * in all) and pages. Drawn with textContent only (a model's prediction is shown, never run), one
 * page of items in the document at a time. The first page comes in #eval-first (before this
 * script) and is drawn at once; all items (#eval-data, at the end of the file) are read at
 * DOMContentLoaded, then search, filters and pages work. Helpers are common.js's (Viewer). */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var el = Viewer.el, num = Viewer.num, option = Viewer.option, relabel = Viewer.relabel;
  var PAGE_SIZE = 50, EFFECTS = ["changed", "better", "worse"], RAW = "output";
  var EFFECT_LABEL = { changed: "changed by the adapter", better: "better with the adapter", worse: "worse with the adapter" };
  var meta, F = {}, C = {}, items, data = null, hay = null, matches = [], page = 0, total = 0, counts, renders = 0;

  function startFirst() {
    meta = JSON.parse($("eval-first").textContent);
    PAGE_SIZE = meta.page_size;
    meta.fields.forEach(function (name, i) { F[name] = i; });
    meta.cell.forEach(function (name, i) { C[name] = i; });
    items = meta.items;
    total = meta.total;
    counts = meta.counts;
    matches = items.map(function (_, i) { return i; });
    setEnabled(false);
    render();
    $("count").appendChild(el("span", "loading", " Reading all " + num(total) + " items…"));
  }

  function startAll() {
    data = JSON.parse($("eval-data").textContent);
    items = data.items;
    total = items.length;
    meta.tasks.forEach(function (task, i) { option($("task"), String(i), task.label); });
    var adapters = meta.variants.some(function (v) { return v.base !== null; });
    $("effect").hidden = !adapters;
    $("effect").parentNode.hidden = !adapters;
    wire();
    setEnabled(true);
    recompute();
  }

  function setEnabled(on) {
    ["search", "task", "effect", "unparseable", "wrong_all", "reset"].forEach(function (id) { $(id).disabled = !on; });
  }

  function has(it, name) { return (it[F.flags] & meta.flags[name]) !== 0; }

  function buildHaystack() {
    hay = new Array(items.length);
    for (var i = 0; i < items.length; i++) {
      var it = items[i], parts = [it[F.id], it[F.prompt], it[F.reference] || ""];
      it[F.cells].forEach(function (cell) {
        if (!cell) return;
        parts.push(cell[C.prediction] || "");
        var extra = cell[C.extra] || {};
        Object.keys(extra).forEach(function (k) {
          if (typeof extra[k] === "string") parts.push(extra[k]);
          else if (texts(extra[k])) parts.push(extra[k].join("\n"));
        });
      });
      hay[i] = parts.join("\n").toLowerCase();
    }
  }

  function bump(table, key) { table[key] = (table[key] || 0) + 1; }

  // One pass: the matching items, and for each filter the counts under the *other* filters.
  function recompute() {
    var query = $("search").value.trim().toLowerCase();
    var terms = query ? query.split(/\s+/) : [];
    var task = $("task").value, effect = $("effect").value;
    var unp = $("unparseable").checked, wrong = $("wrong_all").checked;
    if (terms.length && hay === null) buildHaystack();
    var byTask = {}, byEffect = {}, nUnp = 0, nWrong = 0;
    matches = [];
    outer: for (var i = 0; i < items.length; i++) {
      if (terms.length) {
        for (var t = 0; t < terms.length; t++) if (hay[i].indexOf(terms[t]) < 0) continue outer;
      }
      var it = items[i];
      var okT = !task || String(it[F.task]) === task, okE = !effect || has(it, effect);
      var okU = !unp || has(it, "unparseable"), okW = !wrong || has(it, "wrong_all");
      if (okE && okU && okW) bump(byTask, String(it[F.task]));
      if (okT && okU && okW) EFFECTS.forEach(function (name) { if (has(it, name)) bump(byEffect, name); });
      if (okT && okE && okW && has(it, "unparseable")) nUnp++;
      if (okT && okE && okU && has(it, "wrong_all")) nWrong++;
      if (okT && okE && okU && okW) matches.push(i);
    }
    relabel($("task"), byTask, function (v) { return meta.tasks[Number(v)].label; });
    relabel($("effect"), byEffect, function (v) { return EFFECT_LABEL[v]; });
    $("unparseable-n").textContent = "(" + num(nUnp) + ")";
    $("wrong_all-n").textContent = "(" + num(nWrong) + ")";
    counts = {};
    matches.forEach(function (index) {
      Object.keys(meta.flags).forEach(function (name) { if (has(items[index], name)) bump(counts, name); });
    });
    page = 0;
    render();
  }

  function pages() { return Math.max(1, Math.ceil((data ? matches.length : total) / PAGE_SIZE)); }

  function renderCount() {
    var box = $("count"), of = data ? matches.length : total;
    box.textContent = "";
    var from = matches.length ? page * PAGE_SIZE + 1 : 0, last = Math.min(of, (page + 1) * PAGE_SIZE);
    box.appendChild(el("span", "shown", "Showing " + num(from) + "–" + num(last) + " of " + num(of) +
      " matching (" + num(total) + " items in the evaluation). "));
    [["changed", "changed by the adapter"], ["unparseable", "unparseable"], ["wrong_all", "wrong in all"]].forEach(function (pair) {
      box.appendChild(el("span", "chip chip-" + pair[0], pair[1] + ": " + num(counts[pair[0]] || 0)));
    });
  }

  function render() {
    renderCount();
    var go = function (target) { page = target; render(); };
    Viewer.pager($("pager-top"), page, pages(), data !== null, go);
    Viewer.pager($("pager-bottom"), page, pages(), data !== null, go);
    var list = $("rows"), frag = document.createDocumentFragment();
    var slice = matches.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE);
    slice.forEach(function (index) { frag.appendChild(renderItem(items[index])); });
    if (!slice.length) frag.appendChild(el("li", "group muted", "No item matches these filters."));
    list.textContent = "";
    list.appendChild(frag);
    if (renders++ < 2 && list.querySelector(".prediction")) list.querySelector(".prediction").setAttribute("elementtiming", "first-row");
  }

  function texts(value) {  // a list of texts (the k replies of sampled chain-of-thought)
    return Array.isArray(value) && value.length > 0 && value.every(function (v) { return typeof v === "string"; });
  }

  function shown(value) {
    if (typeof value === "string") return value;
    if (texts(value)) return value.map(function (t, i) { return "[" + (i + 1) + "] " + t; }).join("\n\n");
    return shortJson(value);
  }

  function shortJson(value) {
    return JSON.stringify(value, function (k, v) { return typeof v === "number" ? Math.round(v * 1e4) / 1e4 : v; });
  }

  function scoreBadge(task, score) {
    if (score === null || score === undefined) return el("span", "badge score none", "not scored");
    if (task.kind === "multiple_choice" && (score === 0 || score === 1)) {
      return el("span", "badge score " + (score ? "right" : "wrong"), score ? "\u2713 correct" : "\u2717 wrong");
    }
    return el("span", "badge score " + (score > 0 ? "some" : "wrong"), task.metric + " " + score.toFixed(3));
  }

  function details(cell) {
    var extra = cell[C.extra], more = cell[C.more];
    var keys = extra ? Object.keys(extra).filter(function (k) { return k !== RAW; }) : [];
    if (!keys.length && !more) return null;
    var box = el("details", "more");
    box.appendChild(el("summary", null, "details: " + keys.concat(more ? [more.length + " more samples"] : []).join(", ")));
    var dl = el("dl", "extra");
    keys.forEach(function (k) {
      dl.appendChild(el("dt", null, k));
      dl.appendChild(el("dd", "extra-" + k, shown(extra[k])));
    });
    (more || []).forEach(function (part, i) {
      dl.appendChild(el("dt", null, "sample " + (i + 2)));
      var text = (part[0] === null ? "(no answer)" : part[0]) + (part[1] === null ? "" : "  [score " + part[1] + "]") +
        (part[2] ? "  [unparseable: " + part[2] + "]" : "") + (part[3] ? "\n" + shortJson(part[3]) : "");
      dl.appendChild(el("dd", null, text));
    });
    box.appendChild(dl);
    return box;
  }

  function renderCell(task, variant, v, cell, base) {
    var box = el("div", "cell");
    box.setAttribute("data-variant", variant.label);
    var head = el("div", "cell-head");
    head.appendChild(el("span", "swatch c" + (v % 8)));
    head.appendChild(el("span", "variant", variant.label));
    if (!cell) {
      box.appendChild(head);
      box.appendChild(el("div", "prediction empty", "(not evaluated)"));
      return box;
    }
    var changed = base && (base[C.prediction] !== cell[C.prediction] || base[C.score] !== cell[C.score]);
    if (changed) box.className += " changed";
    head.appendChild(scoreBadge(task, cell[C.score]));
    if (changed) head.appendChild(el("span", "badge flag-changed", "changed"));
    box.appendChild(head);
    var prediction = cell[C.prediction], none = prediction === null || prediction === "";
    box.appendChild(el("div", none ? "prediction empty" : "prediction",
      prediction === null ? "(no answer)" : prediction === "" ? "(empty prediction)" : prediction));
    var raw = cell[C.extra] && cell[C.extra][RAW];
    if (typeof raw === "string" && raw !== prediction) {  // what a generative answer was parsed from
      var wrote = el("div", "raw-output");
      wrote.appendChild(el("span", "label", "model wrote "));
      wrote.appendChild(el("span", "text-output", raw));
      box.appendChild(wrote);
    }
    if (cell[C.unparseable]) box.appendChild(el("div", "unparseable", "unparseable: " + cell[C.unparseable]));
    var more = details(cell);
    if (more) box.appendChild(more);
    return box;
  }

  function renderItem(it) {
    var task = meta.tasks[it[F.task]], li = el("li", "item");
    li.setAttribute("data-id", it[F.id]);
    li.setAttribute("data-task", task.label);
    var head = el("div", "item-head");
    head.appendChild(el("span", "badge task", task.label));
    head.appendChild(el("span", "badge protocol", task.protocol));
    head.appendChild(el("span", "item-id", it[F.id]));
    [["changed", "changed by the adapter"], ["better", "better"], ["worse", "worse"], ["unparseable", "unparseable"],
      ["wrong_all", "wrong in all"]].forEach(function (pair) {
      if (has(it, pair[0])) head.appendChild(el("span", "badge flag-" + pair[0], pair[1]));
    });
    li.appendChild(head);
    var prompt = el("details", "prompt"), full = task.prefix.length + it[F.prompt].length;
    prompt.appendChild(el("summary", null, "Prompt (" + num(full) + " characters)"));
    if (task.prefix) {
      var shared = el("details", "shared");
      shared.appendChild(el("summary", null, "the part every prompt of " + task.label + " shares (" + num(task.prefix.length) + " characters)"));
      shared.appendChild(el("pre", "prompt-shared", task.prefix));
      prompt.appendChild(shared);
    }
    prompt.appendChild(el("pre", "prompt-text", it[F.prompt]));
    li.appendChild(prompt);
    var ref = el("div", "reference");
    ref.appendChild(el("span", "label", "Reference "));
    ref.appendChild(el("span", "text-reference", it[F.reference] === null ? "(none)" : it[F.reference]));
    li.appendChild(ref);
    var grid = el("div", "cells");
    meta.variants.forEach(function (variant, v) {
      var cells = it[F.cells], base = variant.base === null ? null : cells[variant.base];
      if (cells[v] || base) grid.appendChild(renderCell(task, variant, v, cells[v], base));
    });
    li.appendChild(grid);
    return li;
  }

  function wire() {
    var timer = null;
    $("search").addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(recompute, 150);
    });
    ["task", "effect", "unparseable", "wrong_all"].forEach(function (id) { $(id).addEventListener("change", recompute); });
    $("controls").addEventListener("submit", function (e) { e.preventDefault(); recompute(); });
    $("reset").addEventListener("click", function () {
      $("search").value = ""; $("task").value = ""; $("effect").value = "";
      $("unparseable").checked = false; $("wrong_all").checked = false;
      recompute();
    });
    $("scores-box").addEventListener("click", function (e) {
      var task = e.target && e.target.getAttribute && e.target.getAttribute("data-task");
      if (task === null || task === undefined) return;
      $("task").value = task;
      $("effect").value = "changed";
      recompute();
      $("controls").scrollIntoView();
    });
  }

  Viewer.guarded(startFirst, "first-rows", "first", "evaluation");
  document.addEventListener("DOMContentLoaded", function () { Viewer.guarded(startAll, "all-rows", "1", "evaluation"); });
})();
