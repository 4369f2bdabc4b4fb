// Click a column head of a table.sortable to sort its rows (numbers by value, text A-Z);
// a second click reverses. Served from the app (CSP script-src 'self'), no inline handlers.
(function () {
  "use strict";
  function key(cell) {
    var text = (cell ? (cell.getAttribute("data-sort") || cell.textContent) : "").trim();
    var num = parseFloat(text.replace(/[,%]/g, ""));
    return isNaN(num) ? text.toLowerCase() : num;
  }
  function sortBy(table, index, th) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var asc = th.getAttribute("aria-sort") !== "ascending";
    rows.sort(function (a, b) {
      var x = key(a.cells[index]), y = key(b.cells[index]);
      if (typeof x !== typeof y) { x = String(x); y = String(y); }
      return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) { c.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
  }
  function init() {
    document.querySelectorAll("table.sortable").forEach(function (table) {
      if (!table.tHead) { return; }
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
        var b = document.createElement("button");
        b.type = "button"; b.className = "sort"; b.textContent = th.textContent;
        th.textContent = ""; th.appendChild(b);
        b.addEventListener("click", function () { sortBy(table, i, th); });
      });
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
