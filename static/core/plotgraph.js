// What the DAG pages share (lineage/graph.js, dvc_sync/pipeline.js): PlotGraph.draw fetches a figure from its
// JSON endpoint (built and escaped on the server: plotly renders a subset of HTML in labels and hover text), draws
// it, follows a click on a node to the page in its customdata (same-site paths only), says in the note what was
// drawn and sets data-ready="1". Load it after plotly.min.js and before the page's script.
(function () {
  "use strict";

  function sameSite(url) {
    return typeof url === "string" && url.charAt(0) === "/" && url.charAt(1) !== "/" && url.charAt(1) !== "\\";
  }

  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }

  // options.failed: the note when the figure does not load; options.empty: the note (and no graph) for a figure
  // without nodes, when given; options.noun(body): what a node is, "node" by default.
  function draw(graph, note, options) {
    var noun = options.noun || function () { return "node"; };
    fetch(graph.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) {
        if (!res.ok) { note.textContent = res.body.error || options.failed; return; }
        var body = res.body;
        if (options.empty && !body.nodes.length) { note.textContent = options.empty; return; }
        return Plotly.newPlot(graph, body.figure.data, body.figure.layout, {
          displaylogo: false, responsive: true, scrollZoom: true,
          modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d"]
        }).then(function () {
          graph.on("plotly_click", function (event) {
            var point = event.points && event.points[0];
            if (point && sameSite(point.customdata)) { window.location.assign(point.customdata); }
          });
          note.textContent = plural(body.nodes.length, noun(body)) + ", " + plural(body.edges.length, "edge") +
            ". Drag to pan, scroll to zoom, double-click to reset.";
          graph.dataset.ready = "1";
        });
      })
      .catch(function () { note.textContent = options.failed; });
  }

  window.PlotGraph = { draw: draw, sameSite: sameSite };
})();
