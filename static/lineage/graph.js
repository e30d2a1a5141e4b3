// Lineage graphs (the model version page, the run's lineage fragment): each `.lineage-graph[data-url]` is drawn by
// core/plotgraph.js's PlotGraph.draw. Graphs that arrive later in a fragment are drawn when core/partials.js
// announces it with a "partial:loaded" event.
(function () {
  "use strict";

  function draw(graph) {
    if (graph.dataset.drawing) { return; }
    graph.dataset.drawing = "1";
    var note = document.getElementById(graph.dataset.note) || document.createElement("p");
    if (typeof Plotly === "undefined" || !window.PlotGraph) {
      note.textContent = "The graph viewer did not load.";
      return;
    }
    if (!PlotGraph.sameSite(graph.dataset.url)) { note.textContent = "The graph could not be loaded."; return; }
    PlotGraph.draw(graph, note, { failed: "The graph could not be loaded." });
  }

  function drawAll(root) {
    Array.prototype.forEach.call(root.querySelectorAll(".lineage-graph[data-url]"), draw);
  }

  drawAll(document);
  document.addEventListener("partial:loaded", function (event) { drawAll(event.target); });
})();
