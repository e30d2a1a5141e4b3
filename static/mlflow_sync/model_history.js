// The registry timeline of the model page: one row per alias or stage, one bar per version holding it, from the
// JSON at the chart's data-url. Alias names come from MLflow and are escaped before plotly sees them (plotly renders
// a subset of HTML in labels and hover text).
(function () {
  "use strict";
  var chart = document.getElementById("registry-timeline");
  if (!chart || typeof Plotly === "undefined") { return; }
  var note = document.getElementById("registry-timeline-note");
  var COLORS = ["#2f5bd3", "#1d7a46", "#b45309", "#7c3aed", "#0e7490", "#be185d", "#4d7c0f", "#9a3412"];

  function esc(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }
  function when(iso) { return iso ? new Date(iso).toISOString().replace("T", " ").slice(0, 19) + " UTC" : ""; }
  var HOW = { baseline: "held when first synced", observed: "moved outside the dashboard", promoted: "promoted here" };

  fetch(chart.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
    .then(function (res) {
      if (!res.ok) { note.textContent = res.body.error || "The history could not be loaded."; return; }
      var data = res.body;
      if (!data.spans.length) { note.textContent = "No alias or stage has been held since the first sync."; return; }
      var now = new Date(data.now).getTime();
      // Archived collects every retired version: the table below lists it; the chart shows what serves.
      var spans = data.spans.filter(function (s) { return s.slot !== "stage Archived"; });
      // A stage can hold several versions at once: each gets a lane (a row) of its own within its slot.
      var lanes = {};
      spans.sort(function (a, b) { return new Date(a.start) - new Date(b.start); }).forEach(function (s) {
        var ends = lanes[s.slot] = lanes[s.slot] || [];
        var start = new Date(s.start).getTime(), end = s.end ? new Date(s.end).getTime() : now;
        var lane = ends.findIndex(function (e) { return e <= start; });
        if (lane < 0) { lane = ends.length; ends.push(end); } else { ends[lane] = end; }
        s.row = esc(s.slot) + (lane ? " (" + (lane + 1) + ")" : "");
      });
      var slots = [];
      data.slots.forEach(function (slot) {
        (lanes[slot] || []).forEach(function (_, lane) { slots.push(esc(slot) + (lane ? " (" + (lane + 1) + ")" : "")); });
      });
      if (!spans.length) { note.textContent = "No alias or stage has been held since the first sync."; return; }
      var versions = Array.from(new Set(spans.map(function (s) { return s.version; }))).sort(function (a, b) { return a - b; });
      var traces = versions.map(function (version, i) {
        var mine = spans.filter(function (s) { return s.version === version; });
        return {
          type: "bar", orientation: "h", name: "v" + version,
          y: mine.map(function (s) { return s.row; }),
          base: mine.map(function (s) { return new Date(s.start).toISOString(); }),
          x: mine.map(function (s) { return (s.end ? new Date(s.end).getTime() : now) - new Date(s.start).getTime(); }),
          text: mine.map(function () { return "v" + version; }), textposition: "inside", insidetextanchor: "middle",
          marker: { color: COLORS[i % COLORS.length], line: { color: "#fff", width: 1 } },
          customdata: mine.map(function (s) {
            var window = s.how === "observed" && s.not_before ? "<br>moved between " + when(s.not_before) + " and " + when(s.start) : "";
            return esc(s.slot) + ": v" + version + "<br>from " + when(s.start) + " to " + (s.end ? when(s.end) : "now") +
              "<br>" + (HOW[s.how] || esc(s.how)) + window;
          }),
          hovertemplate: "%{customdata}<extra></extra>"
        };
      });
      Plotly.newPlot(chart, traces, {
        barmode: "overlay", height: Math.max(160, 60 + 46 * slots.length), margin: { t: 16, r: 20, b: 40, l: 120 },
        xaxis: { type: "date" }, yaxis: { categoryorder: "array", categoryarray: slots.slice().reverse(), automargin: true },
        showlegend: versions.length > 1, legend: { orientation: "h", y: -0.25 }
      }, { displaylogo: false, responsive: true });
      note.textContent = "Known since " + when(data.known_since) + ": MLflow keeps no history before the first sync.";
    })
    .catch(function () { note.textContent = "The history could not be loaded."; });
})();
