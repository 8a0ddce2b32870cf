/* bioinstruct viewer pages: the helpers the run and the evaluation page share (before each page's script).
 * Everything is drawn with textContent, never innerHTML: the folder's text is shown, never run. */
var Viewer = (function () {
  "use strict";

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function num(n) { return Number(n).toLocaleString("en-US"); }

  function option(select, value, label) {
    var node = el("option", null, label);
    node.value = value;
    select.appendChild(node);
  }

  // Each option but the first ("all") gets its count under the other filters: "name (count)".
  function relabel(select, table, name) {
    for (var i = 1; i < select.options.length; i++) {
      var o = select.options[i];
      o.textContent = name(o.value) + " (" + num(table[o.value] || 0) + ")";
    }
  }

  // First / Prev / "page i of n" / Next / Last; go(target) shows page target (0-based).
  function pager(nav, page, pages, enabled, go) {
    nav.textContent = "";
    function button(label, target, disabled) {
      var b = el("button", "page-" + label.toLowerCase(), label);
      b.type = "button";
      b.disabled = disabled || !enabled;
      b.addEventListener("click", function () { go(target); });
      nav.appendChild(b);
    }
    button("First", 0, page === 0);
    button("Prev", page - 1, page === 0);
    nav.appendChild(el("span", "page-of", "page " + num(page + 1) + " of " + num(pages)));
    button("Next", page + 1, page >= pages - 1);
    button("Last", pages - 1, page >= pages - 1);
  }

  // Run one loading step; on success set the performance mark and body[data-ready], on failure say
  // so in #count (and data-ready="error"), so a broken page is never silently empty.
  function guarded(step, mark, ready, what) {
    try {
      step();
      performance.mark(mark);
      document.body.setAttribute("data-ready", ready);
    } catch (err) {
      var box = document.getElementById("count");
      box.textContent = "";
      box.appendChild(el("span", "error", "The viewer could not read this " + what + "'s data: " + err));
      document.body.setAttribute("data-ready", "error");
      throw err;
    }
  }

  return { el: el, num: num, option: option, relabel: relabel, pager: pager, guarded: guarded };
})();
