/* bioinstruct run viewer: search, filters and pages over the run's items.
 * Everything is drawn with textContent, never innerHTML: the run's text is shown, never run.
 * The helpers el, num, option, relabel, pager and guarded are common.js's (Viewer), shared with
 * the evaluation page.
 * Only one page of items is in the document at a time, so 100k rows stay fast. The first page
 * comes in its own small block (#run-first, before this script) and is drawn at once; all items
 * (#run-data, at the end of the file) are read when the parser has reached them (DOMContentLoaded),
 * then search, filters and pages work. */
(function () {
  "use strict";
  var PAGE_SIZE = 50;
  var STATUS_LABEL = { kept: "kept", pending: "pending label", rejected: "rejected", surplus: "surplus" };
  var $ = function (id) { return document.getElementById(id); };
  var el = Viewer.el, num = Viewer.num, option = Viewer.option, relabel = Viewer.relabel;

  var first, data = null, F = {}, S = {}, items, hay = null, matches = [], page = 0, counts = null, total = 0;
  var renders = 0;

  // The first page, from #run-first: drawn before the browser has even read the rest of the file.
  function startFirst() {
    first = JSON.parse($("run-first").textContent);
    PAGE_SIZE = first.page_size;
    first.fields.forEach(function (name, i) { F[name] = i; });
    items = first.items;
    total = first.total;
    counts = { status: first.counts, rule: first.rules };
    matches = items.map(function (_, i) { return i; });
    setEnabled(false);
    render();
    $("count").appendChild(el("span", "loading", " Reading all " + num(total) + " items…"));
  }

  // Everything, from #run-data: search, filters and pages from here on.
  function startAll() {
    data = JSON.parse($("run-data").textContent);
    data.seed_fields.forEach(function (name, i) { S[name] = i; });
    items = data.items;
    total = items.length;
    fillSelects();
    wire();
    setEnabled(true);
    recompute();
  }

  function setEnabled(on) {
    ["search", "status", "rule", "category", "reset"].forEach(function (id) { $(id).disabled = !on; });
  }

  function fillSelects() {
    first.statuses.forEach(function (s) { option($("status"), s, STATUS_LABEL[s]); });
    Object.keys(data.rules).forEach(function (r) { option($("rule"), r, r); });
    var seen = {}, cats = [];
    for (var i = 0; i < items.length; i++) {
      var c = items[i][F.category];
      if (c && !seen[c]) { seen[c] = true; cats.push(c); }
    }
    var known = ["QA", "IE", "GEN", "OTHER"];
    known.filter(function (c) { return seen[c]; })
      .concat(cats.filter(function (c) { return known.indexOf(c) < 0; }).sort())
      .forEach(function (c) { option($("category"), c, c); });
  }

  function buildHaystack() {
    hay = new Array(items.length);
    for (var i = 0; i < items.length; i++) {
      var it = items[i];
      hay[i] = (it[F.instruction] + "\n" + it[F.input] + "\n" + it[F.output]).toLowerCase();
    }
  }

  function bump(table, key) { table[key] = (table[key] || 0) + 1; }

  // One pass: the matching items, and for each select the counts under the *other* filters.
  function recompute() {
    var query = $("search").value.trim().toLowerCase();
    var terms = query ? query.split(/\s+/) : [];
    var st = $("status").value, ru = $("rule").value, ca = $("category").value;
    if (terms.length && hay === null) buildHaystack();
    var byStatus = {}, byRule = {}, byCat = {};
    matches = [];
    outer: for (var i = 0; i < items.length; i++) {
      if (terms.length) {
        var h = hay[i];
        for (var t = 0; t < terms.length; t++) if (h.indexOf(terms[t]) < 0) continue outer;
      }
      var it = items[i], s = it[F.status], r = it[F.rule], c = it[F.category];
      var okS = !st || s === st, okR = !ru || r === ru, okC = !ca || c === ca;
      if (okR && okC) bump(byStatus, s);
      if (okS && okC && s === "rejected") bump(byRule, r);
      if (okS && okR) bump(byCat, c);
      if (okS && okR && okC) matches.push(i);
    }
    counts = { status: byStatus, rule: byRule };
    relabel($("status"), byStatus, function (v) { return STATUS_LABEL[v]; });
    relabel($("rule"), byRule, function (v) { return v; });
    relabel($("category"), byCat, function (v) { return v; });
    page = 0;
    render();
  }

  function pages() { return Math.max(1, Math.ceil((data ? matches.length : total) / PAGE_SIZE)); }

  function renderCount() {
    var box = $("count");
    box.textContent = "";
    var from = matches.length ? page * PAGE_SIZE + 1 : 0;
    var last = Math.min(matches.length, (page + 1) * PAGE_SIZE);
    var of = data ? matches.length : total;
    var lead = el("span", "shown", "Showing " + num(from) + "–" + num(Math.min(last, of)) + " of " + num(of) +
      " matching (" + num(total) + " in the run). ");
    box.appendChild(lead);
    var matched = counts.status;
    if (data) {
      matched = {};
      for (var i = 0; i < matches.length; i++) bump(matched, items[matches[i]][F.status]);
    }
    first.statuses.forEach(function (s) {
      box.appendChild(el("span", "chip chip-" + s, STATUS_LABEL[s] + ": " + num(matched[s] || 0)));
    });
  }

  function renderPager(nav) {
    Viewer.pager(nav, page, pages(), data !== null, function (target) { page = target; render(); });
  }

  function render() {
    renderCount();
    renderPager($("pager-top"));
    renderPager($("pager-bottom"));
    var list = $("rows"), frag = document.createDocumentFragment(), previous = null;
    var slice = matches.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE);
    slice.forEach(function (index) {
      var it = items[index], group = it[F.status] === "rejected" ? it[F.rule] : null;
      if (group !== null && group !== previous) {
        frag.appendChild(el("li", "group", "Rejected by " + group + " (" + num(counts.rule[group] || 0) + ")"));
      }
      previous = group;
      frag.appendChild(renderItem(it));
    });
    if (!slice.length) frag.appendChild(el("li", "group muted", "No item matches these filters."));
    list.textContent = "";
    list.appendChild(frag);
    // When the first page was painted (Element Timing "first-row"): the first page drawn from
    // #run-first, or, when all items were read before the first frame, the one drawn from them.
    if (renders++ < 2 && list.querySelector(".fields dd")) list.querySelector(".fields dd").setAttribute("elementtiming", "first-row");
  }

  // Text with the flagged identifiers of this field marked (only spans whose offsets still match).
  function marked(cls, text, field, identifiers) {
    var dd = el("dd", cls);
    var spans = (identifiers || []).filter(function (x) {
      return x && x.field === field && typeof x.start === "number" && text.slice(x.start, x.end) === x.text;
    }).sort(function (a, b) { return a.start - b.start; });
    var at = 0;
    spans.forEach(function (x) {
      if (x.start < at) return;
      dd.appendChild(document.createTextNode(text.slice(at, x.start)));
      var m = el("mark", "pii", text.slice(x.start, x.end));
      m.title = x.kind || "identifier";
      dd.appendChild(m);
      at = x.end;
    });
    dd.appendChild(document.createTextNode(text.slice(at)));
    return dd;
  }

  function neighbour(it) {
    var id = it[F.nn_id];
    if (id === null || id === undefined) return null;
    var close = it[F.status] === "rejected" && it[F.rule] === "similarity";
    var box = el("div", close ? "neighbour close" : "neighbour");
    var ref = it[F.nn_ref], where = "unknown", text = null;
    if (ref !== null && ref !== undefined && !data) {  // first page: its neighbours came with it
      var known = first.refs[String(ref)];
      if (known) { where = known[0] === "seed" ? "seed" : STATUS_LABEL[known[0]] + " item"; text = known[1]; }
    } else if (ref !== null && ref !== undefined) {
      if (ref < 0) { where = "seed"; text = data.seeds[-ref - 1][S.instruction]; }
      else { where = STATUS_LABEL[items[ref][F.status]] + " item"; text = items[ref][F.instruction]; }
    }
    var score = it[F.nn_score];
    if (score === 0 && !close) {  // nothing in common with any instruction: the id is only the pool's first
      box.appendChild(el("span", "nn-head", "Nearest neighbour: none (ROUGE-L 0 to every instruction in the pool)"));
      return box;
    }
    score = typeof score === "number" ? score.toFixed(3) : "?";
    box.appendChild(el("span", "nn-head", (close ? "Too close to " : "Nearest neighbour: ") + where + " " + id +
      " (ROUGE-L " + score + ")"));
    box.appendChild(el("q", "nn-text", text === null ? "(its text is not in this run's files)" : text));
    return box;
  }

  function review(r) {
    var box = el("div", "review");
    box.appendChild(el("span", "label", "Review: "));
    ["correctness", "completeness", "safety"].forEach(function (k) {
      box.appendChild(el("span", "score", k + " " + (r[k] === null || r[k] === undefined ? "–" : r[k]) + "/5"));
    });
    if (r.passed !== undefined && r.passed !== null) box.appendChild(el("span", r.passed ? "passed" : "failed", r.passed ? "passed" : "failed"));
    if (r.reviewer) box.appendChild(el("span", "reviewer", " by " + r.reviewer));
    if (r.rationale) box.appendChild(el("div", "rationale", r.rationale));
    return box;
  }

  function renderItem(it) {
    var status = it[F.status], rule = it[F.rule], ids = it[F.identifiers];
    var li = el("li", "item st-" + status);
    li.setAttribute("data-id", it[F.id]);
    var head = el("div", "item-head");
    head.appendChild(el("span", "badge st-" + status, STATUS_LABEL[status]));
    if (rule) head.appendChild(el("span", "badge rule", rule));
    if (it[F.category]) head.appendChild(el("span", "badge cat", it[F.category]));
    head.appendChild(el("span", "item-id", it[F.id]));
    li.appendChild(head);
    if (status !== "kept" && it[F.reason]) li.appendChild(el("div", "reason", it[F.reason]));
    var dl = el("dl", "fields");
    [["instruction", "Instruction"], ["input", "Input"], ["output", "Output"]].forEach(function (pair) {
      var text = it[F[pair[0]]] || "";
      dl.appendChild(el("dt", null, pair[1]));
      dl.appendChild(text ? marked("text-" + pair[0], text, pair[0], ids) : el("dd", "empty", "(none)"));
    });
    li.appendChild(dl);
    var nn = neighbour(it);
    if (nn) li.appendChild(nn);
    (it[F.overlap] || []).slice(0, 3).forEach(function (o) {
      li.appendChild(el("div", "overlap", "Overlaps benchmark " + o.benchmark + " item " + o.item_id + " (" +
        o.method + (typeof o.score === "number" ? " " + o.score.toFixed(3) : "") + "): " + (o.item_text || "")));
    });
    if (it[F.review]) li.appendChild(review(it[F.review]));
    if (ids && ids.length) {
      li.appendChild(el("div", "identifiers", "Patient identifiers: " + ids.map(function (x) {
        return (x.kind || "?") + (x.text ? " \u201c" + x.text + "\u201d" : " (redacted)") + " in " + (x.field || "?");
      }).join("; ")));
    }
    var prov = [];
    if (it[F.request_id]) prov.push("request " + it[F.request_id]);
    if (it[F.seed_ids] && it[F.seed_ids].length) prov.push("seeds " + it[F.seed_ids].join(", "));
    if (it[F.teacher_model]) prov.push("teacher " + it[F.teacher_model]);
    if (it[F.label_source]) prov.push("label " + it[F.label_source]);
    if (typeof it[F.time] === "number") prov.push(new Date(it[F.time] * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC");
    if (prov.length) li.appendChild(el("div", "prov", prov.join(" · ")));
    return li;
  }

  function wire() {
    var timer = null;
    $("search").addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(recompute, 150);
    });
    ["status", "rule", "category"].forEach(function (id) { $(id).addEventListener("change", recompute); });
    $("controls").addEventListener("submit", function (e) { e.preventDefault(); recompute(); });
    $("reset").addEventListener("click", function () {
      $("search").value = ""; $("status").value = ""; $("rule").value = ""; $("category").value = "";
      recompute();
    });
    $("rules-box").addEventListener("click", function (e) {
      var rule = e.target && e.target.getAttribute && e.target.getAttribute("data-rule");
      if (rule === null || rule === undefined) return;
      $("rule").value = rule;
      $("status").value = "rejected";
      recompute();
      $("controls").scrollIntoView();
    });
  }

  Viewer.guarded(startFirst, "first-rows", "first", "run");
  document.addEventListener("DOMContentLoaded", function () { Viewer.guarded(startAll, "all-rows", "1", "run"); });
})();
