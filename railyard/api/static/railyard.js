// The dashboard's one script, for the pages with interactive charts or sortable tables.
// Charts: each <script type="application/json" class="vega-lite" data-target="ID"> holds a Vega-Lite spec
// (railyard.report.vega), drawn into the element ID by vega-embed. Its expressions are evaluated by
// vega-interpreter, never by eval, as the page's Content-Security-Policy requires; vega-embed and its tooltips
// add no style of their own (railyard.css has theirs). Tables with class "sortable" sort by a header's column
// on a click (numbers as numbers, blanks last; a second click reverses).
"use strict";

async function drawCharts() {
  for (const data of document.querySelectorAll("script.vega-lite")) {
    const target = document.getElementById(data.dataset.target);
    try {
      const spec = JSON.parse(data.textContent);
      await vegaEmbed(target, spec, {
        ast: true, expr: vegaInterpreter.expressionInterpreter, actions: false, defaultStyle: false,
        renderer: (spec.usermeta || {}).renderer || "svg", tooltip: {disableDefaultStyle: true},
      });
      target.dataset.drawn = "true";
    } catch (error) {
      target.textContent = "This chart could not be drawn: " + error;
      target.dataset.drawn = "failed";
    }
  }
  document.body.dataset.chartsDrawnMs = performance.now();  // since the page was asked for: what its tests measure
}

function sortKey(cell) {
  const text = (cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent).trim();
  const number = Number(text);
  return text === "" ? null : Number.isFinite(number) ? number : text.toLowerCase();
}

function sortBy(table, column, header) {
  const descending = header.getAttribute("aria-sort") === "ascending";
  for (const other of table.tHead.rows[0].cells) other.removeAttribute("aria-sort");
  header.setAttribute("aria-sort", descending ? "descending" : "ascending");
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  rows.sort((a, b) => {
    const x = sortKey(a.cells[column]), y = sortKey(b.cells[column]);
    if (x === null || y === null) return (x === null) - (y === null);
    const order = typeof x === typeof y ? (x < y ? -1 : x > y ? 1 : 0) : (typeof x === "number" ? -1 : 1);
    return descending ? -order : order;
  });
  body.append(...rows);
}

for (const table of document.querySelectorAll("table.sortable")) {
  Array.from(table.tHead.rows[0].cells).forEach((header, column) => {
    header.classList.add("sort-button");
    header.addEventListener("click", () => sortBy(table, column, header));
  });
}
drawCharts();
