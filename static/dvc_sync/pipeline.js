// The pipeline page's DAG, drawn by core/plotgraph.js's PlotGraph.draw from the page's JSON endpoint (data-url).
// Clicking a node opens the page named in its customdata: the stage, or the data path's history.
(function () {
  "use strict";
  var graph = document.getElementById("pipeline-graph");
  if (!graph || typeof Plotly === "undefined" || !window.PlotGraph) { return; }
  PlotGraph.draw(graph, document.getElementById("pipeline-note"), {
    failed: "The pipeline could not be loaded.",
    empty: "The pipeline is empty at this commit.",
    noun: function (body) { return body.outs ? "output" : "stage"; }
  });
})();
