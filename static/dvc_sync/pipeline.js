// The pipeline page's DAG: the figure comes from the page's JSON endpoint (data-url), built and escaped on the
// server (plotly renders a subset of HTML in labels and hover text). Clicking a node opens the page named in its
// customdata: the stage, or the data path's history. Only same-site paths are followed.
(function () {
  "use strict";
  var graph = document.getElementById("pipeline-graph");
  if (!graph || typeof Plotly === "undefined") { return; }
  var note = document.getElementById("pipeline-note");

  function sameSite(url) {
    return typeof url === "string" && url.charAt(0) === "/" && url.charAt(1) !== "/" && url.charAt(1) !== "\\";
  }

  fetch(graph.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
    .then(function (res) {
      if (!res.ok) { note.textContent = res.body.error || "The pipeline could not be loaded."; return; }
      var body = res.body;
      if (!body.nodes.length) { note.textContent = "The pipeline is empty at this commit."; return; }
      return Plotly.newPlot(graph, body.figure.data, body.figure.layout, {
        displaylogo: false, responsive: true, scrollZoom: true,
        modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d"]
      }).then(function () {
        graph.on("plotly_click", function (event) {
          var point = event.points && event.points[0];
          if (point && sameSite(point.customdata)) { window.location.assign(point.customdata); }
        });
        var what = body.outs ? "output" : "stage";
        note.textContent = body.nodes.length + " " + what + (body.nodes.length === 1 ? "" : "s") + ", " +
          body.edges.length + " edge" + (body.edges.length === 1 ? "" : "s") +
          ". Drag to pan, scroll to zoom, double-click to reset.";
        graph.dataset.ready = "1";
      });
    })
    .catch(function () { note.textContent = "The pipeline could not be loaded."; });
})();
