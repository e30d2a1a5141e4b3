// Metric history chart of the run detail page. Every string from MLflow is escaped before plotly sees it:
// plotly renders a subset of HTML in titles and hover text.
(function () {
  "use strict";
  var chart = document.getElementById("metric-chart");
  if (!chart || typeof Plotly === "undefined") { return; }
  var note = document.getElementById("metric-chart-note");

  function esc(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }

  var latest = 0;  // only the last chart asked for is drawn, whatever order the answers arrive in

  function show(key, baseUrl) {
    var ticket = ++latest;
    note.textContent = "Loading the history of " + key + "…";
    fetch(baseUrl + encodeURIComponent(key), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) {
        if (ticket !== latest) { return; }
        if (!res.ok) { note.textContent = res.body.error || "The history could not be loaded."; return; }
        var pts = res.body.points;
        var x = pts.map(function (p) { return p[0]; });
        var y = pts.map(function (p) { return p[2]; });
        var when = pts.map(function (p) { return new Date(p[1]).toISOString(); });
        var safeKey = esc(key);
        Plotly.react(chart, [{
          x: x, y: y, customdata: when, mode: pts.length > 1 ? "lines+markers" : "markers", name: safeKey,
          line: { color: "#2f5bd3" }, marker: { size: 6 },
          hovertemplate: "step %{x}<br>" + safeKey + " = %{y}<br>%{customdata}<extra></extra>"
        }], {
          title: { text: safeKey, font: { size: 14 } }, margin: { t: 40, r: 20, b: 40, l: 60 },
          xaxis: { title: { text: "step" } }, yaxis: { title: { text: "value" } }, height: 320
        }, { displaylogo: false, responsive: true });
        note.textContent = pts.length + " value" + (pts.length === 1 ? "" : "s") + " logged for " + key + ".";
      })
      .catch(function () { if (ticket === latest) note.textContent = "The history could not be loaded."; });
  }

  document.querySelectorAll("button[data-metric-key]").forEach(function (btn) {
    btn.addEventListener("click", function () { show(btn.dataset.metricKey, btn.dataset.url); });
  });
  if (chart.dataset.firstKey) { show(chart.dataset.firstKey, chart.dataset.url); }
})();
