// Lineage graphs (the model version page, the run's lineage fragment): each `.lineage-graph[data-url]` fetches its
// figure from the JSON endpoint, built and escaped on the server (plotly renders a subset of HTML in labels and
// hover text). Clicking a node opens the page in its customdata; only same-site paths are followed. Graphs that
// arrive later in a fragment are drawn when core/partials.js announces it with a "partial:loaded" event.
(function () {
  "use strict";

  function sameSite(url) {
    return typeof url === "string" && url.charAt(0) === "/" && url.charAt(1) !== "/" && url.charAt(1) !== "\\";
  }

  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }

  function draw(graph) {
    if (graph.dataset.drawing) { return; }
    graph.dataset.drawing = "1";
    var note = document.getElementById(graph.dataset.note) || document.createElement("p");
    if (typeof Plotly === "undefined") { note.textContent = "The graph viewer did not load."; return; }
    if (!sameSite(graph.dataset.url)) { note.textContent = "The graph could not be loaded."; return; }
    fetch(graph.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) {
        if (!res.ok) { note.textContent = res.body.error || "The graph could not be loaded."; return; }
        var body = res.body;
        return Plotly.newPlot(graph, body.figure.data, body.figure.layout, {
          displaylogo: false, responsive: true, scrollZoom: true,
          modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d"]
        }).then(function () {
          graph.on("plotly_click", function (event) {
            var point = event.points && event.points[0];
            if (point && sameSite(point.customdata)) { window.location.assign(point.customdata); }
          });
          note.textContent = plural(body.nodes.length, "node") + ", " + plural(body.edges.length, "edge") +
            ". Drag to pan, scroll to zoom, double-click to reset.";
          graph.dataset.ready = "1";
        });
      })
      .catch(function () { note.textContent = "The graph could not be loaded."; });
  }

  function drawAll(root) {
    Array.prototype.forEach.call(root.querySelectorAll(".lineage-graph[data-url]"), draw);
  }

  drawAll(document);
  document.addEventListener("partial:loaded", function (event) { drawAll(event.target); });
})();
