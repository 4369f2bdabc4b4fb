// Renders every <div class="chart" data-spec="ID"> from the JSON in <script id="ID">.
// Vega's AST interpreter (ast: true) evaluates expressions without eval/new Function, so the
// page runs under a Content-Security-Policy with script-src 'self' and no 'unsafe-eval'.
(function () {
  "use strict";
  function render() {
    if (typeof window.vegaEmbed !== "function") { return; }
    document.querySelectorAll(".chart[data-spec]").forEach(function (el) {
      var src = document.getElementById(el.getAttribute("data-spec"));
      if (!src) { return; }
      var spec = JSON.parse(src.textContent);
      window.vegaEmbed(el, spec, {
        renderer: "svg", actions: false, ast: true, defaultStyle: false, tooltip: false
      }).then(function () {
        el.classList.add("rendered");
      }).catch(function (err) {
        el.textContent = "Chart could not be drawn: " + err;
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", render);
  } else {
    render();
  }
})();
